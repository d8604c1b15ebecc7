/**
 * How the tests' daemon scripts end: they run their program and exit once
 * it completes, 0, or 1 with the error on stderr. The exit is explicit
 * because a daemon's process must end when its server does, even if
 * something (a timer, a handle) would keep Node's event loop alive, and
 * the tests read the code and the message.
 */
import { Effect } from "effect"

/** Runs `program`; exits 0 when it succeeds, or writes its error on stderr and exits 1. */
export const runAndExit = (program: Effect.Effect<unknown, unknown>): void => {
  Effect.runPromise(program).then(
    () => process.exit(0),
    (error) => {
      process.stderr.write(`${error}\n`)
      process.exit(1)
    }
  )
}
