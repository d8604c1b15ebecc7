/**
 * Finding this machine's processes by their command line (Linux), for tests
 * that start detached processes and must make sure none outlives them.
 */
import * as fs from "node:fs"

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
