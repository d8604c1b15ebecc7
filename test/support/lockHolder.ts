/**
 * Takes the lock file at argv[2] as a starting server would, says so on
 * stdout, and then holds it until killed: a starter that crashes while
 * holding the lock.
 */
import { Effect } from "effect"
import * as Lockfile from "../../src/transport/Lockfile.ts"

// Nothing else keeps the event loop, and so the process, alive.
setInterval(() => {}, 1 << 30)

Effect.runFork(Effect.scoped(Effect.gen(function*() {
  yield* Lockfile.acquire(process.argv[2]!)
  process.stdout.write("locked\n")
  yield* Effect.never
})))
