/**
 * Starts and stops servers at argv[2] under umask 000, one at a time, as
 * told on stdin: `start` (socket mode 0600, the default), `start-open`
 * (mode 0666), `stop`. Answers `up` or `down` on stdout when done.
 */
import { Effect, Exit, Scope } from "effect"
import * as readline from "node:readline"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"

process.umask(0)
const path = process.argv[2]!
let scope: Scope.Closeable | undefined

const start = (mode: number) =>
  Effect.gen(function*() {
    scope = yield* Scope.make()
    yield* Scope.provide(Server.make(path, TestApplication.handler, { mode }), scope)
    process.stdout.write("up\n")
  })

const stop = Effect.suspend(() => Scope.close(scope!, Exit.void)).pipe(
  Effect.andThen(Effect.sync(() => process.stdout.write("down\n")))
)

// One command at a time, in order.
let queue: Promise<unknown> = Promise.resolve()
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const command = line === "start" ? start(0o600) : line === "start-open" ? start(0o666) : stop
  queue = queue.then(() => Effect.runPromise(command)).catch((error) => {
    process.stderr.write(`${error}\n`)
    process.exit(1)
  })
})
