/**
 * An RPC daemon for the auto-start tests, started detached by the client
 * under test: serves `WhoAmI` (its pid) and `Stop` at argv[2]. It records
 * itself in the directory argv[3]: `started-<pid>` as it starts,
 * `listening-<pid>` once it listens. A daemon that loses the race to
 * listen exits with 1.
 */
import { Effect, Layer, Schema } from "effect"
import { Rpc, RpcGroup, RpcServer } from "effect/rpc"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as SimpleIpcRpc from "../../src/rpc/SimpleIpcRpc.ts"
import * as Server from "../../src/server/Server.ts"
import { runAndExit } from "./runAndExit.ts"

export class DaemonRpcs extends RpcGroup.make(
  Rpc.make("WhoAmI", { success: Schema.Int }),
  Rpc.make("Stop")
) {}

const mark = (dir: string, what: "started" | "listening") =>
  fs.writeFileSync(nodePath.join(dir, `${what}-${process.pid}`), "")

if (import.meta.main) {
  const [path, dir] = [process.argv[2]!, process.argv[3]!]
  mark(dir, "started")
  const program = Effect.gen(function*() {
    const server = yield* Server.IpcServer
    mark(dir, "listening")
    yield* server.join
  }).pipe(
    Effect.provide(
      RpcServer.layer(DaemonRpcs).pipe(
        Layer.provide(DaemonRpcs.toLayer({
          WhoAmI: () => Effect.succeed(process.pid),
          Stop: () => Server.IpcServer.use((server) => server.stop)
        })),
        Layer.provideMerge(SimpleIpcRpc.layerProtocolServer(path))
      )
    )
  )
  runAndExit(program)
}
