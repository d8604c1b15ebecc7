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
 * broken — never a lock a live starter holds, nor one of another user.
 *
 * The record is written before the lock exists: into a temporary file,
 * which is then hard-linked to the lock path (a link, like O_EXCL, fails
 * if the path exists). There is no moment at which the lock exists without
 * its owner, so a starter killed at any point leaves either no lock or one
 * that says whose it is.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Data from "effect/Data"
import * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as FileIdentity from "./internal/fileIdentity.ts"
import * as Leftovers from "./internal/leftovers.ts"
import { errnoOf } from "../internal/Bytes.ts"
import * as StartupPhase from "../internal/StartupPhase.ts"

/**
 * The lock could not be taken.
 *
 * `Held`: another starter holds it and did not let go within the timeout.
 * `NotALockFile`: something other than a regular file sits at the lock path
 * (a directory, a symlink); it is never removed or followed.
 * `OtherUser`: the lock file belongs to another user (`uid`); it is never
 * broken, whatever it records.
 * `Failed`: the file system refused (the errno says why).
 *
 * @since 0.1.0
 * @category errors
 */
export class LockError extends Data.TaggedError("LockError")<{
  readonly path: string
  readonly reason: "Held" | "NotALockFile" | "OtherUser" | "Failed"
  readonly errno?: string | undefined
  readonly owner?: number | undefined
  /** The user the lock file belongs to, for `OtherUser`. */
  readonly uid?: number | undefined
  /** The socket path the lock guards, when it guards one. */
  readonly guarding?: string | undefined
  /** The system error, for `Failed`. */
  readonly cause?: unknown
}> {
  override get message(): string {
    const taking = this.guarding === undefined ? `could not take lock '${this.path}'` : `could not start server on: '${this.guarding}'`
    switch (this.reason) {
      case "Held":
        // Worded as Git words it, with what to do about it after.
        return `${taking}: File exists (lock '${this.path}' is held by another server starting${
          this.owner === undefined ? "" : `, process ${this.owner}`
        }; if none is, remove the lock file)`
      case "NotALockFile":
        return `could not take lock '${this.path}': it exists and is not a regular file; remove it or choose another path`
      case "OtherUser":
        return `${taking}: lock '${this.path}' belongs to another user (uid ${this.uid}) and is never broken; that user or root can remove it, and a directory only you can write to keeps others from putting one there`
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
 * The owner recorded in a lock file: the process that took the lock (the
 * record temporaries are named after, see {@link Leftovers.Process}) and
 * when it took it (ms since the epoch).
 */
interface Owner extends Leftovers.Process {
  readonly takenAt: number
}

/** A lock file's contents: the owner's pid, start time and when it took the lock, a line each. */
const encodeOwner = (owner: Owner): string => `${[...Leftovers.encodeProcess(owner), owner.takenAt].join("\n")}\n`

/**
 * Parses a lock file's contents; `undefined` when they are not an owner
 * record (written by another program, or left empty by an earlier version,
 * which wrote the record after creating the lock).
 */
const parseOwner = (text: string): Owner | undefined => {
  const [pid, start, takenAt] = text.split("\n")
  const maker = Leftovers.decodeProcess(pid, start)
  // The first version wrote no start time: its line of the time taken
  // reads as the start time, and the missing third line as 0, a lock long
  // stale, which is what it is by now.
  const taken = Number(takenAt)
  return maker === undefined || !Number.isFinite(taken) ? undefined : { ...maker, takenAt: taken }
}

const failed = (path: string, error: unknown) =>
  new LockError({ path, reason: "Failed", errno: errnoOf(error) ?? "EIO", cause: error })

/**
 * Creates the lock file at `path` with our owner record in it, in one step:
 * the record is written to a temporary file, which is then linked to
 * `path`. The link fails if anything (a symlink included) is at `path`, and
 * is never followed. `steps` marks the start-up steps (for the lock itself,
 * not the breaker's).
 */
const create = (path: string, steps: boolean): fs.Stats | "exists" => {
  const temporary = Leftovers.temporaryPath(nodePath.dirname(path), "lock")
  const fd = fs.openSync(temporary, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600)
  try {
    let created: fs.Stats
    try {
      fs.writeSync(fd, encodeOwner({ ...Leftovers.self, takenAt: Date.now() }))
      created = fs.fstatSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    if (steps) StartupPhase.reached("lock-written")
    try {
      fs.linkSync(temporary, path)
    } catch (error) {
      if (errnoOf(error) === "EEXIST") return "exists"
      throw error
    }
    if (steps) StartupPhase.reached("lock-linked")
    return created
  } finally {
    fs.rmSync(temporary, { force: true })
  }
}

/** A lock file found at `path`, and whether it may be broken. */
interface Found {
  readonly stats: fs.Stats
  readonly owner: Owner | undefined
  readonly stale: boolean
}

/**
 * What is at the lock path `path`: nothing, a lock file of ours (stale or
 * not), or something never to be broken. A lock without an owner record
 * (another program's, or one an earlier version left empty) is stale only
 * by its age. `steps` marks the start-up step (for the first look at the
 * lock itself, not the breaker's nor the look again under it).
 */
const inspect = (path: string, staleAfterMs: number, steps = false): Found | LockError | undefined => {
  const stats = fs.lstatSync(path, { throwIfNoEntry: false })
  if (stats === undefined) return undefined
  if (!stats.isFile()) return new LockError({ path, reason: "NotALockFile" })
  if (!FileIdentity.isOwnedByUs(stats)) return new LockError({ path, reason: "OtherUser", uid: stats.uid })
  if (steps) StartupPhase.reached("lock-inspected")
  const record = recordOf(path, stats)
  // The lock looked at is gone: released by its holder, or broken and
  // taken again. Nothing is left to judge; the caller tries to create the
  // lock again, and looks again if it is there.
  if (record === undefined) return undefined
  const owner = parseOwner(record)
  const age = Date.now() - (owner?.takenAt ?? stats.mtimeMs)
  return { stats, owner, stale: age > staleAfterMs || (owner !== undefined && Leftovers.isGone(owner)) }
}

/** Opens without following a symlink, and without waiting on a FIFO put at the name. */
const READ_IN_PLACE = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0)

/**
 * The text of the lock file `stats` describes, read through a descriptor
 * that is checked to be that very file, or `undefined` when the name no
 * longer holds it: the holder may release the lock, or a symlink may be
 * put in its place, between the look and the read. Reading by name would
 * then fail (a starter failing on a lock that was just let go), or follow
 * the symlink.
 */
const recordOf = (path: string, stats: fs.Stats): string | undefined => {
  let fd: number
  try {
    fd = fs.openSync(path, READ_IN_PLACE)
  } catch (error) {
    const errno = errnoOf(error)
    // ENOENT: gone. ELOOP (EMLINK on FreeBSD): a symlink now, which the
    // next look refuses. ENXIO: a socket now.
    if (errno === "ENOENT" || errno === "ELOOP" || errno === "EMLINK" || errno === "ENXIO") return undefined
    throw error
  }
  try {
    return FileIdentity.isSame(fs.fstatSync(fd), FileIdentity.of(stats)) ? fs.readFileSync(fd, "latin1") : undefined
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * Removes the breaker's lock `<path>.break` if its owner died holding it
 * (it holds it for microseconds). Only that file, by its identity: a
 * breaker that has just taken the name since is left alone. Returns why
 * the breaker's lock can never be taken, when something that is not ours
 * sits there.
 */
const removeAbandonedBreaker = (breaker: string, staleAfterMs: number): LockError | undefined => {
  const found = inspect(breaker, staleAfterMs)
  if (found instanceof LockError) return found
  if (found?.stale === true) FileIdentity.removeIfAt(breaker, FileIdentity.of(found.stats))
  return undefined
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
  const first = inspect(path, staleAfterMs, true)
  if (first === undefined) return true
  if (first instanceof LockError) return first
  if (!first.stale) return new LockError({ path, reason: "Held", ...(first.owner ? { owner: first.owner.pid } : {}) })
  const breaker = `${path}.break`
  const held = create(breaker, false)
  if (held === "exists") {
    return removeAbandonedBreaker(breaker, staleAfterMs) ?? new LockError({ path, reason: "Held" })
  }
  try {
    StartupPhase.reached("breaking")
    const again = inspect(path, staleAfterMs)
    if (again === undefined) return true
    if (again instanceof LockError) return again
    // Whether this is still the file first found is told by the stats just
    // taken: a further look at the path would not close the gap before the
    // rename, only move it. What keeps that gap safe is the breaker's lock
    // (no other starter breaks the lock meanwhile), and that a stale lock's
    // owner is gone, unless it has held the lock past staleAfter.
    if (again.stale && FileIdentity.isSame(again.stats, FileIdentity.of(first.stats))) {
      // Renamed aside, then removed: never unlinking a name that another
      // starter might reuse between our check and our removal. The name
      // aside is a temporary of ours, swept if we die before removing it.
      const aside = Leftovers.temporaryPath(nodePath.dirname(path), "aside")
      if (!renamedIfThere(path, aside)) return true
      StartupPhase.reached("lock-aside")
      fs.rmSync(aside, { force: true })
      return true
    }
    return new LockError({ path, reason: "Held" })
  } finally {
    FileIdentity.removeIfAt(breaker, FileIdentity.of(held))
  }
}

/**
 * Renames `from` to `to`; `false` when `from` is no longer there. A stale
 * lock's owner is gone, but a lock kept past `staleAfter` by a live owner
 * may be released at any moment: then there is nothing left to break.
 */
const renamedIfThere = (from: string, to: string): boolean => {
  try {
    fs.renameSync(from, to)
    return true
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return false
    throw error
  }
}

const tryAcquire = (path: string, staleAfterMs: number) =>
  Effect.try({
    try: (): fs.Stats | LockError => {
      for (let attempt = 0; attempt < 3; attempt++) {
        const created = create(path, true)
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
 * What starters killed midway left beside the lock: the temporaries named
 * after them (see {@link Leftovers}) and a breaker's lock. Cleared by the
 * next starter to take the lock, so that nothing piles up.
 */
const clearLeftovers = (path: string, staleAfterMs: number) =>
  Effect.andThen(
    Effect.sync(() => {
      try {
        removeAbandonedBreaker(`${path}.break`, staleAfterMs)
      } catch {
        // Best effort, as the sweep: the next start tries again.
      }
    }),
    Leftovers.sweep(nodePath.dirname(path))
  )

const withGuarding = (error: LockError, guarding: string | undefined) =>
  guarding === undefined ? error : new LockError({
    path: error.path,
    reason: error.reason,
    guarding,
    ...(error.errno === undefined ? {} : { errno: error.errno }),
    ...(error.owner === undefined ? {} : { owner: error.owner }),
    ...(error.uid === undefined ? {} : { uid: error.uid }),
    ...(error.cause === undefined ? {} : { cause: error.cause })
  })

/**
 * Takes the lock file `path` for the life of the scope, retrying with
 * back-off while another starter holds it, and breaking it when it is
 * stale. Once it is taken, what starters killed midway left in its
 * directory is removed (their temporaries, a breaker's lock), never what a
 * live process or another user owns.
 *
 * Servers take `<path>.lock` while they start (see `Listener.make`); the
 * same lock serialises any other work on a path among processes.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Lockfile } from "effect-simple-ipc"
 *
 * const exclusive = Effect.scoped(
 *   Effect.gen(function*() {
 *     // Waits up to a second for another holder; a dead holder's lock is broken.
 *     yield* Lockfile.acquire("/tmp/app.sock.lock", { timeout: "1 second" })
 *     // ... only one process at a time runs here ...
 *   })
 * ) // released with the scope
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const acquire = (path: string, options?: Options): Effect.Effect<void, LockError, Scope.Scope> => {
  const timeout = Duration.fromInputUnsafe(options?.timeout ?? Duration.millis(100))
  const staleAfter = Duration.toMillis(options?.staleAfter ?? Duration.seconds(60))
  const schedule = Schedule.exponential(Duration.millis(2), 2).pipe(Schedule.upTo({ duration: timeout }))
  return Effect.acquireRelease(
    tryAcquire(path, staleAfter).pipe(
      Effect.retry({ schedule, while: (e) => e.reason === "Held" }),
      Effect.mapError((e) => withGuarding(e, options?.guarding))
    ),
    (created) => release(path, created)
  ).pipe(Effect.tap(() => clearLeftovers(path, staleAfter)), Effect.asVoid)
}
