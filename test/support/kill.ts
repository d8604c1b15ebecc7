/**
 * Stopping a child process and waiting for its end. Nothing here loads the
 * library, neither `src/` nor `dist/`: the Windows suite, which must test
 * the compiled library alone, uses it as the Linux tests do.
 */
import { Effect } from "effect"
import type { ChildProcess } from "node:child_process"

/** Sends a signal and waits until the process has exited. */
export const killAndWait = (child: ChildProcess, signal: NodeJS.Signals) =>
  Effect.callback<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
    child.kill(signal)
  })
