/**
 * Finding this machine's processes by their command line (Linux), for tests
 * that start detached processes and must make sure none outlives them: each
 * test gives its daemons a marker (a fresh directory, passed on their
 * command line) and kills every process that carries it when its scope
 * closes.
 */
import { Duration, Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { nodeBinary } from "./child.ts"
import { waitUntil } from "./raw.ts"
import { tempDir } from "./tempdir.ts"

/** Whether a `/proc` entry names a process. */
const isPid = (name: string) => /^\d+$/.test(name)

/** A process's arguments, or `undefined` once it has exited (an exited process has no command line). */
const argumentsOf = (pid: string): ReadonlyArray<string> | undefined => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
  } catch {
    return undefined
  }
}

/**
 * The running processes whose command line has every one of `args`: a
 * process is there from the moment it is spawned, before it has booted far
 * enough to say anything of itself.
 */
export const processesWith = (...args: ReadonlyArray<string>): Array<number> =>
  fs.readdirSync("/proc").filter(isPid).filter((pid) => {
    const own = argumentsOf(pid)
    return own !== undefined && args.every((arg) => own.includes(arg))
  }).map(Number)

/**
 * Whether the process has gone entirely. Its command line empties as it
 * begins to exit, but its descriptors (a listening socket) close later: a
 * client may still connect to a daemon whose command line is gone.
 */
export const isGone = (pid: number): boolean => !fs.existsSync(`/proc/${pid}`)

/** Kills a process if it is still there. */
export const killIfAlive = (pid: number, signal: NodeJS.Signals = "SIGKILL"): void => {
  try {
    process.kill(pid, signal)
  } catch {
    // Exited already.
  }
}

/** Kills every process carrying `marker`, and waits until they have gone entirely. */
export const killAll = (marker: string) =>
  Effect.suspend(() => {
    const pids = processesWith(marker)
    for (const pid of pids) killIfAlive(pid)
    return waitUntil(Effect.sync(() => pids.every(isGone) && processesWith(marker).length === 0), Duration.seconds(30))
  })

/**
 * When the scope closes, kills every process carrying `marker` and waits
 * until they have gone: for detached daemons, which no child handle of the
 * test's own would stop.
 */
export const killAllOnClose = (marker: string) => Effect.addFinalizer(() => Effect.orDie(killAll(marker)))

/**
 * A fresh directory for one test's daemons, whose processes (those with it
 * on their command line) are all killed, and waited for, when the scope
 * closes.
 */
export const daemonMarker = Effect.gen(function*() {
  const dir = yield* tempDir
  yield* killAllOnClose(dir)
  return dir
})

/** The pid of a process that has exited. */
export const deadPid = Effect.callback<number>((resume) => {
  const child = spawn(nodeBinary, ["-e", ""], { stdio: "ignore" })
  child.once("exit", () => resume(Effect.succeed(child.pid!)))
})

/**
 * A pid no process can have: above Linux's largest (PID_MAX_LIMIT, 2^22),
 * so that a record naming it is a fixed string and names a process gone.
 */
export const NO_SUCH_PID = 4_194_305

/**
 * The fields of /proc/<pid>/stat after the command's name (which may hold
 * spaces and parentheses): the process's state first (field 3).
 */
export const procStatOf = (pid: number): Array<string> => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "latin1")
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")
}

/** A process's start time as the kernel reports it (field 22 of /proc/<pid>/stat). */
export const startTimeOf = (pid: number): string => procStatOf(pid)[19]!
