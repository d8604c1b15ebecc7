/**
 * Kills starting daemons at random moments, in a process of its own so
 * that the moments do not depend on how busy the test's process is (it
 * spawns a hundred daemons). Every 2 ms it looks for the daemon processes
 * whose command line carries the marker (`KILLER_MARKER`, in the
 * environment so that this process does not carry it): each new one is
 * doomed with even odds to die (SIGKILL) at a random moment of its first
 * `KILLER_WINDOW_MS`, booting, taking the lock, binding, renaming its
 * socket into place or listening, until `KILLER_MAX` kills are scheduled
 * or `KILLER_PHASE_MS` has passed. Prints "ready" once watching, and each
 * kill as `killed <pid>`.
 */
import { killIfAlive, processesWith } from "../support/processes.ts"

const marker = process.env.KILLER_MARKER!
const window = Number(process.env.KILLER_WINDOW_MS ?? 3000)
const max = Number(process.env.KILLER_MAX ?? 40)
const phase = Number(process.env.KILLER_PHASE_MS ?? 20_000)

const judged = new Set<number>()
let doomed = 0
const began = Date.now()
const watch = setInterval(() => {
  if (Date.now() - began > phase) return clearInterval(watch)
  for (const pid of processesWith(marker)) {
    if (judged.has(pid)) continue
    judged.add(pid)
    if (doomed >= max || Math.random() < 0.5) continue
    doomed++
    setTimeout(() => {
      killIfAlive(pid)
      process.stdout.write(`killed ${pid}\n`)
    }, Math.random() * window)
  }
}, 2)
process.stdout.write("ready\n")
