/**
 * The `<path>.lock` file that serialises server startup on one socket path.
 *
 * Two servers starting at once on the same path could both find it free,
 * and the second bind would silently take the path from the first. Holding
 * an exclusively created lock file while probing and binding makes the probe
 * and the bind one step as far as other starters are concerned.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Schedule, Schema, Scope } from "effect"
import * as fs from "node:fs"

/**
 * The lock could not be taken.
 *
 * `Held`: another starter holds it and did not let go within the timeout.
 * `Failed`: the file system refused (the errno says why).
 *
 * @since 0.1.0
 * @category errors
 */
export class LockError extends Schema.TaggedError<LockError>()("LockError", {
  path: Schema.String,
  reason: Schema.Literals(["Held", "Failed"]),
  errno: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return this.reason === "Held"
      ? `could not take lock '${this.path}': File exists (another server is starting on this path, or a previous one crashed while starting; remove the file if no server is starting)`
      : `could not take lock '${this.path}': ${this.errno}`
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How long to wait for a held lock before giving up. Default 100 ms, as Git does. */
  readonly timeout?: Duration.Input | undefined
}

const tryCreate = (path: string) =>
  Effect.try({
    // O_EXCL also refuses to follow a symlink planted at the lock path.
    try: () => {
      const fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600)
      try {
        fs.writeSync(fd, `${process.pid}\n${Date.now()}\n`)
        return fs.fstatSync(fd)
      } finally {
        fs.closeSync(fd)
      }
    },
    catch: (error) => {
      const errno = (error as NodeJS.ErrnoException).code ?? "EIO"
      return new LockError({ path, reason: errno === "EEXIST" ? "Held" : "Failed", errno })
    }
  })

/**
 * Removes the lock only while it is still the file we created, so that a
 * lock broken and retaken by someone else is left alone.
 */
const release = (path: string, created: fs.Stats) =>
  Effect.sync(() => {
    try {
      const now = fs.lstatSync(path)
      if (now.ino === created.ino && now.dev === created.dev) fs.unlinkSync(path)
    } catch {
      // Already gone: nothing to release.
    }
  })

/**
 * Takes the lock file `path` for the life of the scope, retrying with
 * back-off while another starter holds it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const acquire = (path: string, options?: Options): Effect.Effect<void, LockError, Scope.Scope> => {
  const timeout = Duration.fromInputUnsafe(options?.timeout ?? Duration.millis(100))
  const schedule = Schedule.exponential(Duration.millis(2), 2).pipe(Schedule.upTo({ duration: timeout }))
  return Effect.acquireRelease(
    tryCreate(path).pipe(Effect.retry({ schedule, while: (e) => e.reason === "Held" })),
    (created) => release(path, created)
  ).pipe(Effect.asVoid)
}
