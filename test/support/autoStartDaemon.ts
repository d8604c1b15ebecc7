/**
 * A daemon for the auto-start tests, started detached by the client under
 * test: serves `whoami` (its pid) and `stop` at argv[2]. It records itself
 * in the directory argv[3]: `started-<pid>` as it starts, `listening-<pid>`
 * once it listens. A daemon that loses the race to listen exits with 1.
 */
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Server from "../../src/server/Server.ts"
import * as Protocol from "../../src/typed/Protocol.ts"
import * as TypedServer from "../../src/typed/TypedServer.ts"

export const DaemonProtocol = Protocol.make(
  Protocol.command("whoami", { success: Schema.Int }),
  Protocol.command("stop")
)

const mark = (dir: string, what: "started" | "listening") =>
  fs.writeFileSync(nodePath.join(dir, `${what}-${process.pid}`), "")

if (import.meta.main) {
  const [path, dir] = [process.argv[2]!, process.argv[3]!]
  mark(dir, "started")
  const program = TypedServer.make(DaemonProtocol, path, {
    whoami: () => Effect.succeed(process.pid),
    stop: () => Server.IpcServer.use((server) => server.stop)
  }).pipe(
    Effect.tap(() => Effect.sync(() => mark(dir, "listening"))),
    Effect.flatMap((server) => server.join),
    Effect.scoped
  )
  Effect.runPromise(program).then(
    () => process.exit(0),
    (error) => {
      process.stderr.write(`${error}\n`)
      process.exit(1)
    }
  )
}
