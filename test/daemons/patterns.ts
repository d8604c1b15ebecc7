/**
 * The documented ways to run a daemon, each as a program of its own:
 * `node patterns.ts <pattern> <socket>`. Each serves the test application
 * (whose `quit` stops the server) or, for the RPC patterns, an effect/rpc
 * group with a `Stop` call.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"
import { Rpc, RpcGroup, RpcServer } from "effect/rpc"
import * as SimpleIpcRpc from "../../src/rpc/SimpleIpcRpc.ts"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"

export class Daemon extends RpcGroup.make(
  Rpc.make("Pid", { success: Schema.Int }),
  Rpc.make("Stop")
) {}

/** The group served by `RpcServer.layer` on a Simple IPC socket: a daemon is this layer, launched. */
const rpc = (path: string) =>
  RpcServer.layer(Daemon).pipe(
    Layer.provide(Daemon.toLayer({
      Pid: () => Effect.succeed(process.pid),
      Stop: () => Server.IpcServer.use((server) => server.stop)
    })),
    Layer.provide(SimpleIpcRpc.layerProtocolServer(path))
  )

/**
 * Each pattern by name: how it is started, and how its process should end
 * after the server stops by itself.
 */
export const patterns = {
  /** `Server.run`, run with `Effect.runPromise`: ends when the server stops. */
  "run": (path: string) => void Effect.runPromise(Server.run(path, TestApplication.handler)),
  /** `Server.run` under `NodeRuntime.runMain`. */
  "run-main": (path: string) => NodeRuntime.runMain(Server.run(path, TestApplication.handler)),
  /** The daemon layer, launched under `NodeRuntime.runMain`. */
  "layer-main": (path: string) => NodeRuntime.runMain(Layer.launch(Server.layer(path, TestApplication.handler))),
  /** The daemon layer, launched with `Effect.runFork`. */
  "layer-fork": (path: string) => void Effect.runFork(Layer.launch(Server.layer(path, TestApplication.handler))),
  /** An RPC daemon layer, launched under `NodeRuntime.runMain`; stopped by its `Stop` call. */
  "rpc-layer-main": (path: string) => NodeRuntime.runMain(Layer.launch(rpc(path))),
  /** An RPC daemon layer, launched with `Effect.runFork`. */
  "rpc-layer-fork": (path: string) => void Effect.runFork(Layer.launch(rpc(path)))
} as const

export type Pattern = keyof typeof patterns

if (import.meta.main) {
  const [pattern, path] = process.argv.slice(2) as [Pattern, string]
  patterns[pattern](path)
}
