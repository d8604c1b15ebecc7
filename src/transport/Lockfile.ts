/**
 * The `<path>.lock` file that serialises server startup on one socket path.
 *
 * Two servers starting at once on the same path could both find it free,
 * and the second bind would silently take the path from the first. Holding
 * an exclusively created lock file while probing and binding makes the probe
 * and the bind one step as far as other starters are concerned.
 *
 * A starter that dies while holding the lock (killed, crashed) would block
 * every later start, as it does in Git. The lock file therefore records its
 * owner (pid, the process's start time, when the lock was taken), and a lock
 * whose owner is gone, or which is far older than any start takes, is
 * broken — never a lock a live starter holds.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Data from "effect/Data"
import * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as FileIdentity from "./FileIdentity.ts"
import { errnoOf } from "../internal/Bytes.ts"

/**
 * The lock could not be taken.
 *
 * `Held`: another starter holds it and did not let go within the timeout.
 * `NotALockFile`: something other than a regular file sits at the lock path
 * (a directory, a symlink); it is never removed or followed.
 * `Failed`: the file system refused (the errno says why).
 *
 * @since 0.1.0
 * @category errors
 */
export class LockError extends Data.TaggedError("LockError")<{
  readonly path: string
  readonly reason: "Held" | "NotALockFile" | "Failed"
  readonly errno?: string | undefined
  readonly owner?: number | undefined
  /** The socket path the lock guards, when it guards one. */
  readonly guarding?: string | undefined
}> {
  override get message(): string {
    switch (this.reason) {
      case "Held":
        // Worded as Git words it, with what to do about it after.
        return `${this.guarding === undefined ? `could not take lock '${this.path}'` : `could not start server on: '${this.guarding}'`}: File exists (lock '${this.path}' is held by another server starting${
          this.owner === undefined ? "" : `, process ${this.owner}`
        }; if none is, remove the lock file)`
      case "NotALockFile":
        return `could not take lock '${this.path}': it exists and is not a regular file; remove it or choose another path`
      case "Failed":
        return `could not take lock '${this.path}': ${this.errno} (check that the directory exists and is writable)`
    }
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How long to wait for a held lock before giving up. Default 100 ms, as Git does. */
  readonly timeout?: Duration.Input | undefined
  /**
   * A lock older than this is stale even if its owner seems alive (its pid
   * may have been reused). Starting takes milliseconds; default 60 s.
   */
  readonly staleAfter?: Duration.Input | undefined
  /** The socket path the lock guards, named in its errors. */
  readonly guarding?: string | undefined
}

/**
 * The owner recorded in a lock file.
 *
 * @since 0.1.0
 * @category models
 */
export interface Owner {
  readonly pid: number
  /** The owner process's start time as the kernel reports it (Linux), to tell a reused pid apart. */
  readonly processStart: string
  /** When the lock was taken (ms since the epoch). */
  readonly takenAt: number
}

const hasProc = fs.existsSync("/proc/self/stat")

/**
 * A process's start time in clock ticks since boot (field 22 of
 * /proc/<pid>/stat); `undefined` when there is no such process, "" where
 * the system does not tell.
 */
const processStart = (pid: number): string | undefined => {
  if (!hasProc) return ""
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1")
    // The command name (field 2) may contain spaces; fields after it are plain.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? ""
  } catch (error) {
    const errno = (error as NodeJS.ErrnoException).code
    return errno === "ENOENT" ? undefined : ""
  }
}

const ownStart = processStart(process.pid) ?? ""

/**
 * Parses a lock file's contents; `undefined` when they are not an owner
 * record (written by someone else, or still being written).
 *
 * @since 0.1.0
 * @category parsing
 */
export const parseOwner = (text: string): Owner | undefined => {
  const [pid, start, takenAt] = text.split("\n")
  const owner = { pid: Number(pid), processStart: start ?? "", takenAt: Number(takenAt) }
  return Number.isSafeInteger(owner.pid) && owner.pid > 0 && Number.isFinite(owner.takenAt) ? owner : undefined
}

/**
 * Whether the owner is certainly gone: no such process, or a process with
 * that pid that started at another time (the pid was reused).
 */
const ownerIsGone = (owner: Owner): boolean => {
  try {
    process.kill(owner.pid, 0)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return true
  }
  const start = processStart(owner.pid)
  if (start === undefined) return true
  return start !== "" && owner.processStart !== "" && start !== owner.processStart
}

const failed = (path: string, error: unknown) =>
  new LockError({ path, reason: "Failed", errno: errnoOf(error) ?? "EIO" })

/**
 * Creates the lock file exclusively and writes our owner record into it.
 * O_EXCL also refuses to follow a symlink planted at the lock path.
 */
const create = (path: string): fs.Stats | "exists" => {
  let fd: number
  try {
    fd = fs.openSync(path, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return "exists"
    throw error
  }
  try {
    fs.writeSync(fd, `${process.pid}\n${ownStart}\n${Date.now()}\n`)
    return fs.fstatSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Breaks the lock at `path` if it is stale, and reports whether it did.
 *
 * Two starters may find the same stale lock. Were both to remove it, the
 * second could remove the fresh lock the first has just taken. Breaking is
 * therefore done under a second, short-lived lock (`<path>.break`), and the
 * lock is checked again under it: same file, same stale owner.
 */
const breakIfStale = (path: string, staleAfterMs: number): true | LockError => {
  const inspect = () => {
    const stats = fs.lstatSync(path, { throwIfNoEntry: false })
    if (stats === undefined) return undefined
    if (!stats.isFile()) return new LockError({ path, reason: "NotALockFile" })
    const owner = parseOwner(fs.readFileSync(path, "latin1"))
    const age = Date.now() - (owner?.takenAt ?? stats.mtimeMs)
    const stale = age > staleAfterMs || (owner !== undefined && ownerIsGone(owner))
    return { stats, owner, stale }
  }
  const first = inspect()
  if (first === undefined) return true
  if (first instanceof LockError) return first
  if (!first.stale) return new LockError({ path, reason: "Held", ...(first.owner ? { owner: first.owner.pid } : {}) })
  const breaker = `${path}.break`
  const held = create(breaker)
  if (held === "exists") {
    // A breaker died between its two steps (it holds this lock for
    // microseconds); an old one is removed so that the next try can proceed.
    const stats = fs.lstatSync(breaker, { throwIfNoEntry: false })
    if (stats?.isFile() && Date.now() - stats.mtimeMs > staleAfterMs) fs.rmSync(breaker, { force: true })
    return new LockError({ path, reason: "Held" })
  }
  try {
    const again = inspect()
    if (again === undefined) return true
    if (again instanceof LockError) return again
    if (again.stale && FileIdentity.isAt(path, FileIdentity.of(first.stats))) {
      // Renamed aside, then removed: never unlinking a name that another
      // starter might reuse between our check and our removal.
      const aside = `${path}.stale-${randomBytes(6).toString("hex")}`
      fs.renameSync(path, aside)
      fs.rmSync(aside, { force: true })
      return true
    }
    return new LockError({ path, reason: "Held" })
  } finally {
    fs.rmSync(breaker, { force: true })
  }
}

const tryAcquire = (path: string, staleAfterMs: number) =>
  Effect.try({
    try: (): fs.Stats | LockError => {
      for (let attempt = 0; attempt < 3; attempt++) {
        const created = create(path)
        if (created !== "exists") return created
        const broken = breakIfStale(path, staleAfterMs)
        if (broken !== true) return broken
      }
      return new LockError({ path, reason: "Held" })
    },
    catch: (error) => failed(path, error)
  }).pipe(Effect.flatMap((result) => result instanceof LockError ? Effect.fail(result) : Effect.succeed(result)))

/**
 * Removes the lock only while it is still the file we created, so that a
 * lock broken and retaken by someone else is left alone.
 */
const release = (path: string, created: fs.Stats) =>
  Effect.sync(() => FileIdentity.removeIfAt(path, FileIdentity.of(created)))

/**
 * Takes the lock file `path` for the life of the scope, retrying with
 * back-off while another starter holds it, and breaking it when it is
 * stale.
 *
 * @since 0.1.0
 * @category constructors
 */
export const acquire = (path: string, options?: Options): Effect.Effect<void, LockError, Scope.Scope> => {
  const timeout = Duration.fromInputUnsafe(options?.timeout ?? Duration.millis(100))
  const staleAfter = Duration.toMillis(options?.staleAfter ?? Duration.seconds(60))
  const schedule = Schedule.exponential(Duration.millis(2), 2).pipe(Schedule.upTo({ duration: timeout }))
  const guarding = options?.guarding
  return Effect.acquireRelease(
    tryAcquire(path, staleAfter).pipe(
      Effect.retry({ schedule, while: (e) => e.reason === "Held" }),
      Effect.mapError((e) =>
        guarding === undefined ? e : new LockError({
          path: e.path,
          reason: e.reason,
          guarding,
          ...(e.errno === undefined ? {} : { errno: e.errno }),
          ...(e.owner === undefined ? {} : { owner: e.owner })
        })
      )
    ),
    (created) => release(path, created)
  ).pipe(Effect.asVoid)
}
