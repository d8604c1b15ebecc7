/**
 * What the auto-start tests share: the daemon they start (an RPC daemon,
 * see ./autoStartDaemon.ts), where its instances record themselves, and a
 * directory whose daemons are all killed when the test's scope closes.
 */
import { Duration, Effect } from "effect"
import * as fs from "node:fs"
import type * as AutoStart from "../../src/client/AutoStart.ts"
import { nodeBinary, supportFile } from "./child.ts"
import { processesWith } from "./processes.ts"
import { waitUntil } from "./raw.ts"
import { tempDir } from "./tempdir.ts"

/** The daemon's program: `node <daemonScript> <socket> <dir>`. */
export const daemonScript = supportFile("autoStartDaemon.ts")

/** The pids the daemons recorded in `dir` as `<what>-<pid>`. */
export const recorded = (dir: string, what: "started" | "listening"): Array<number> =>
  fs.readdirSync(dir).filter((name) => name.startsWith(`${what}-`)).map((name) => Number(name.slice(what.length + 1)))

/** The daemon processes running for `dir`, from the moment each is spawned. */
export const daemonProcesses = (dir: string): Array<number> => processesWith(daemonScript, dir)

/**
 * A directory for daemons to record themselves in, whose daemons are all
 * killed when the scope closes, whatever the test did: they are detached
 * and would outlive it.
 */
export const daemonDir = Effect.gen(function*() {
  const dir = yield* tempDir
  yield* Effect.addFinalizer(() =>
    Effect.gen(function*() {
      for (const pid of daemonProcesses(dir)) process.kill(pid, "SIGKILL")
      yield* waitUntil(Effect.sync(() => daemonProcesses(dir).length === 0))
    }).pipe(Effect.orDie)
  )
  return dir
})

/** How to start the daemon for `path`, recording itself in `dir`. */
export const options = (path: string, dir: string): AutoStart.Options => ({
  command: nodeBinary,
  args: [daemonScript, path, dir],
  startTimeout: Duration.seconds(30)
})
