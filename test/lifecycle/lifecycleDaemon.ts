/**
 * A daemon for the lifecycle tests, started detached by the client under
 * test: `node lifecycleDaemon.ts <path> <dir> <version>` serves at <path>;
 * with a version it declares the identity `lifecycle-test <version>`
 * (protocol 1) and answers status; with `none` it is a daemon from before
 * identities, which declares nothing.
 *
 * It answers `whoami` with `<pid> <version>`, and `quit` by stopping. In
 * <dir> it records `started-<pid>` as it starts, `listening-<pid>` once it
 * listens, and one line in `quits-<pid>` per quit it is sent. A daemon that
 * loses the race to listen exits with 1.
 */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Server from "../../src/server/Server.ts"
import type * as Connection from "../../src/transport/Connection.ts"
import { runAndExit } from "../support/runAndExit.ts"

export const daemonName = "lifecycle-test"

const mark = (dir: string, what: "started" | "listening") =>
  fs.writeFileSync(nodePath.join(dir, `${what}-${process.pid}`), "")

if (import.meta.main) {
  const [path, dir, version] = [process.argv[2]!, process.argv[3]!, process.argv[4]!]
  mark(dir, "started")
  const handler: Server.Handler<Connection.TransportError> = (request, reply) => {
    const command = Buffer.from(request).toString("utf8")
    if (command === "whoami") return reply(`${process.pid} ${version}`)
    if (command === "quit") {
      return Effect.sync(() => fs.appendFileSync(nodePath.join(dir, `quits-${process.pid}`), "quit\n")).pipe(
        Effect.as(Server.Quit)
      )
    }
    // What a daemon from before identities answers to a request it does not know.
    return reply(`unhandled command: ${command}`)
  }
  const options: Server.Options = version === "none"
    ? {}
    : { identity: { name: daemonName, version, protocol: "1" }, status: { logPath: nodePath.join(dir, "daemon.log") } }
  const program = Server.make(path, handler, options).pipe(
    Effect.tap(() => Effect.sync(() => mark(dir, "listening"))),
    Effect.flatMap((server) => server.join),
    Effect.scoped
  )
  runAndExit(program)
}
