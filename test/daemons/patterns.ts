/**
 * The documented ways to run a daemon, each as a program of its own:
 * `node patterns.ts <pattern> <socket>`. Each serves the test application
 * (whose `quit` stops the server) and, for the typed patterns, a protocol
 * with a `stop` command.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"
import * as Protocol from "../../src/typed/Protocol.ts"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import * as TypedServer from "../../src/typed/TypedServer.ts"

export const Daemon = Protocol.make(
  Protocol.command("pid", { success: Schema.Int }),
  Protocol.command("stop")
)

const typed = (path: string) =>
  TypedServer.layer(Daemon, path, {
    pid: () => Effect.succeed(process.pid),
    stop: () => Server.IpcServer.use((server) => server.stop)
  })

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
  /** A typed daemon layer, launched under `NodeRuntime.runMain`; stopped by its `stop` command. */
  "typed-layer-main": (path: string) => NodeRuntime.runMain(Layer.launch(typed(path))),
  /** A typed daemon layer, launched with `Effect.runFork`. */
  "typed-layer-fork": (path: string) => void Effect.runFork(Layer.launch(typed(path)))
} as const

export type Pattern = keyof typeof patterns

if (import.meta.main) {
  const [pattern, path] = process.argv.slice(2) as [Pattern, string]
  patterns[pattern](path)
}
