/**
 * Stopping a child process and waiting for its end. Nothing here loads the
 * library, neither `src/` nor `dist/`: the Windows suite, which must test
 * the compiled library alone, uses it as the Linux tests do.
 */
import { Effect } from "effect"
import type { ChildProcess } from "node:child_process"

/** How a process ended: its exit code, or the signal that killed it. */
export interface Ended {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** Waits until the process has exited (at once if it already has), and says how. */
export const exitOf = (child: ChildProcess): Effect.Effect<Ended> =>
  Effect.callback<Ended>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      return resume(Effect.succeed({ code: child.exitCode, signal: child.signalCode }))
    }
    child.once("exit", (code, signal) => resume(Effect.succeed({ code, signal })))
  })

/** Sends a signal and waits until the process has exited. */
export const killAndWait = (child: ChildProcess, signal: NodeJS.Signals): Effect.Effect<void> =>
  Effect.suspend(() => {
    // A process that has exited has no handle left: kill does nothing.
    child.kill(signal)
    return Effect.asVoid(exitOf(child))
  })
