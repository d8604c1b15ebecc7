/**
 * Named steps of a server's start-up, for tests only.
 *
 * What a starter killed midway leaves behind depends on where it was
 * killed. So that a test can kill one at exactly each step, a process whose
 * environment variable `SIMPLE_IPC_TEST_STOP_AT` names a step stops itself
 * (SIGSTOP) on reaching it; the test sees it stopped and kills it. Nothing
 * else reads the variable; unset, a step costs a string comparison.
 *
 * @since 0.2.0
 */

/**
 * The steps, in the order a start reaches them. `lock-inspected` (a lock
 * found at the path, looked at but not yet read) is only reached when a lock
 * is there; `breaking` and `lock-aside` only when a stale lock is broken.
 *
 * @since 0.2.0
 */
export const phases = [
  "lock-written",
  "lock-inspected",
  "breaking",
  "lock-aside",
  "lock-linked",
  "locked",
  "directory-made",
  "bound",
  "renamed"
] as const

/**
 * @since 0.2.0
 */
export type Phase = typeof phases[number]

const stopAt = process.env.SIMPLE_IPC_TEST_STOP_AT

/**
 * Marks a step of start-up (see the module's description).
 *
 * @since 0.2.0
 */
export const reached = (phase: Phase): void => {
  if (phase === stopAt) process.kill(process.pid, "SIGSTOP")
}
