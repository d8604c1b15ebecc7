/**
 * The temporary files a server's start-up makes beside its socket (the
 * lock's owner record before it is linked into place, the private directory
 * the socket is bound in, a broken lock moved aside), named after the
 * process that made them, so that whatever a starter killed midway leaves
 * is recognised and removed by the next start, and nothing a live process
 * or another user owns ever is.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { errnoOf } from "../../internal/Bytes.ts"
import * as FileIdentity from "./fileIdentity.ts"

/**
 * A process as recorded in lock files and temporary names: its pid and its
 * start time (clock ticks since boot on Linux, "" where the system does not
 * tell), which together tell a live owner from a reused pid.
 *
 * @since 0.2.0
 * @category models
 */
export interface Process {
  readonly pid: number
  readonly start: string
}

/** Whether `text` is decimal digits only; the empty string is. */
const isDigits = (text: string): boolean => /^\d*$/.test(text)

/**
 * A process's record as text: its pid and its start time, in this order.
 * A lock file holds them on its first two lines, a temporary's name
 * between dashes (see {@link prefix}); neither field can contain a dash or
 * a newline.
 *
 * @since 0.2.0
 * @category encoding
 */
export const encodeProcess = (record: Process): readonly [pid: string, start: string] => [String(record.pid), record.start]

/**
 * The process that a record's two fields, as {@link encodeProcess} writes
 * them, name; `undefined` unless the pid is a positive decimal integer and
 * the start time decimal digits or empty (another program's file, a name
 * that only looks like ours).
 *
 * @since 0.2.0
 * @category decoding
 */
export const decodeProcess = (pid: string | undefined, start: string | undefined): Process | undefined => {
  if (pid === undefined || start === undefined || pid === "" || !isDigits(pid) || !isDigits(start)) return undefined
  const number = Number(pid)
  return Number.isSafeInteger(number) && number > 0 ? { pid: number, start } : undefined
}

const hasProc = fs.existsSync("/proc/self/stat")

/**
 * A process's start time in clock ticks since boot (field 22 of
 * /proc/<pid>/stat); `undefined` when there is no such process, "" where
 * the system does not tell.
 */
const startOf = (pid: number): string | undefined => {
  if (!hasProc) return ""
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1")
    // The command name (field 2) may contain spaces; fields after it are plain.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? ""
  } catch (error) {
    return errnoOf(error) === "ENOENT" ? undefined : ""
  }
}

/**
 * This process.
 *
 * @since 0.2.0
 * @category constants
 */
export const self: Process = { pid: process.pid, start: startOf(process.pid) ?? "" }

/**
 * Whether `owner` is certainly gone: no such process, or a process with
 * that pid that started at another time (the pid was reused). A process of
 * another user (EPERM) is alive.
 *
 * @since 0.2.0
 * @category predicates
 */
export const isGone = (owner: Process): boolean => {
  try {
    process.kill(owner.pid, 0)
  } catch (error) {
    if (errnoOf(error) === "ESRCH") return true
  }
  const start = startOf(owner.pid)
  if (start === undefined) return true
  return start !== "" && owner.start !== "" && start !== owner.start
}

/**
 * What a temporary is for: the owner record of a lock before it is linked
 * into place, the private directory a socket is bound in, a stale lock
 * moved aside before its removal.
 *
 * @since 0.2.0
 * @category models
 */
export type Kind = "lock" | "sock" | "aside"

/**
 * The start of a temporary name of ours: `.sipc-<kind>-<pid>-<start>-`,
 * to which a random part is appended.
 *
 * @since 0.2.0
 * @category constructors
 */
export const prefix = (kind: Kind): string => `.sipc-${kind}-${encodeProcess(self).join("-")}-`

/**
 * A fresh temporary path of ours in `directory`.
 *
 * @since 0.2.0
 * @category constructors
 */
export const temporaryPath = (directory: string, kind: Kind): string =>
  nodePath.join(directory, `${prefix(kind)}${randomBytes(6).toString("hex")}`)

/** A temporary's name: its kind, its maker's process record, a random part. */
const NAME = /^\.sipc-(?:lock|sock|aside)-([^-]*)-([^-]*)-[0-9A-Za-z]+$/
/** The temporary socket name of earlier versions, which recorded no start time. */
const EARLIER_NAME = /^\.sipc-([^-]*)-[0-9a-f]{12}$/

/**
 * The process that made the temporary named `name`; `undefined` when the
 * name is not one of ours.
 */
const ownerOf = (name: string): Process | undefined => {
  const match = NAME.exec(name) ?? EARLIER_NAME.exec(name)
  return match === null ? undefined : decodeProcess(match[1], match[2] ?? "")
}

/**
 * Removes the temporaries in `directory` that starters killed midway left
 * there: names of ours, files of this user, whose process is gone. What a
 * live process or another user owns is left alone. Returns the names
 * removed. Best effort: a temporary that cannot be removed now is left for
 * the next start.
 *
 * @since 0.2.0
 * @category mutations
 */
export const sweep = (directory: string): Effect.Effect<ReadonlyArray<string>> =>
  Effect.sync(() => {
    let names: Array<string>
    try {
      names = fs.readdirSync(directory)
    } catch {
      return []
    }
    const removed: Array<string> = []
    for (const name of names) {
      const owner = ownerOf(name)
      if (owner === undefined || !isGone(owner)) continue
      const path = nodePath.join(directory, name)
      try {
        const stats = fs.lstatSync(path)
        if (!FileIdentity.isOwnedByUs(stats)) continue
        // A socket's private directory holds at most its socket.
        fs.rmSync(path, { recursive: stats.isDirectory(), force: true })
        removed.push(name)
      } catch {
        // Removed by another start meanwhile, or not removable now.
      }
    }
    return removed
  })
