/**
 * Detached daemons started by the code under test outlive the test unless
 * killed: each test gives its daemons a marker (a fresh directory, passed
 * on their command line) and kills every process that carries it when its
 * scope closes.
 */
import { Duration, Effect } from "effect"
import * as fs from "node:fs"
import { waitUntil } from "../support/raw.ts"
import { tempDir } from "../support/tempdir.ts"

/**
 * The processes whose command line has `marker` as an argument (Linux). A
 * process exists from the moment it is spawned, before it has booted far
 * enough to record itself anywhere; exited ones have no command line.
 */
export const processesWith = (marker: string): Array<number> =>
  fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name)).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").includes(marker)
    } catch {
      return false
    }
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
 * A fresh directory for one test's daemons, whose processes (those with it
 * on their command line) are all killed, and waited for, when the scope
 * closes.
 */
export const daemonMarker = Effect.gen(function*() {
  const dir = yield* tempDir
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      yield* killAll(dir)
    }).pipe(Effect.orDie)
  )
  return dir
})
