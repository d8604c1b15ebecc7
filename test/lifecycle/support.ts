/**
 * Daemons for the lifecycle tests: started detached by `AutoStart` (as a
 * user's would be), recorded in a directory of their own, and all killed
 * when the test's scope closes, whatever the test did.
 */
import { Duration } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import type * as AutoStart from "../../src/client/AutoStart.ts"
import { nodeBinary } from "../support/child.ts"
import { daemonMarker, processesWith } from "../support/processes.ts"
import { daemonName } from "./lifecycleDaemon.ts"

export { recorded } from "../support/autoStart.ts"

/** The reserved requests, byte for byte as the README documents them. */
export const identityRequest = Buffer.from([0, ...Buffer.from("simple-ipc-control"), 0, ...Buffer.from("identity")])
export const statusRequest = Buffer.from([0, ...Buffer.from("simple-ipc-control"), 0, ...Buffer.from("status")])

export const daemonScript = nodePath.join(import.meta.dirname, "lifecycleDaemon.ts")

/** How many quits the daemon `pid` was sent. */
export const quitsSent = (dir: string, pid: number): number => {
  const file = nodePath.join(dir, `quits-${pid}`)
  return fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter((line) => line === "quit").length : 0
}

/** The daemon processes running for `dir`, from the moment each is spawned. */
export const daemonProcesses = (dir: string): Array<number> => processesWith(daemonScript, dir)

/** A directory for one test's daemons and socket; its daemons are killed when the scope closes. */
export const daemonDir = daemonMarker

/** How a client starts the daemon of `version` (`none`: one that declares no identity). */
export const startOptions = (path: string, dir: string, version: string): AutoStart.Options => ({
  command: nodeBinary,
  args: [daemonScript, path, dir, version],
  startTimeout: Duration.seconds(30),
  // Generous: daemons racing for the socket start slowly on a busy machine.
  exitGrace: Duration.seconds(10)
})

/** A client of `version` that requires its own daemon, restarting (or refusing) any other. */
export const requiring = (
  path: string,
  dir: string,
  version: string,
  onMismatch: "restart" | "fail" = "restart"
): AutoStart.Options => ({
  ...startOptions(path, dir, version),
  identity: {
    expected: { name: daemonName, version, protocol: "1" },
    onMismatch,
    stopTimeout: Duration.seconds(30)
  }
})

/** A `whoami` answer: the daemon's pid and version. */
export const parseWhoami = (answer: Uint8Array): { readonly pid: number; readonly version: string } => {
  const [pid, version] = Buffer.from(answer).toString("utf8").split(" ")
  return { pid: Number(pid), version: version! }
}
