/**
 * What the auto-start tests share: the daemon they start (an RPC daemon,
 * see ./autoStartDaemon.ts), where its instances record themselves, and a
 * directory whose daemons are all killed when the test's scope closes.
 */
import { Duration } from "effect"
import * as fs from "node:fs"
import type * as AutoStart from "../../src/client/AutoStart.ts"
import { nodeBinary, supportFile } from "./child.ts"
import { daemonMarker, processesWith } from "./processes.ts"

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
export const daemonDir = daemonMarker

/** How to start the daemon for `path`, recording itself in `dir`. */
export const options = (path: string, dir: string): AutoStart.Options => ({
  command: nodeBinary,
  args: [daemonScript, path, dir],
  startTimeout: Duration.seconds(30)
})
