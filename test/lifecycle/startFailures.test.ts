/**
 * A daemon started on demand that exits, is killed or never listens: the
 * error says how it ended and quotes the last lines of its output, kept in
 * the log file the options name (moved aside when it grows too large).
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"
import * as AutoStart from "../../src/client/AutoStart.ts"
import { nodeBinary } from "../support/child.ts"
import { daemonMarker } from "../support/processes.ts"

const failingDaemon = fileURLToPath(new URL("./failingDaemon.ts", import.meta.url))

/** Options that start `failingDaemon.ts <how>` for `path`, logging to `log`. */
const failing = (how: string, path: string, marker: string, log?: string): AutoStart.Options => ({
  command: nodeBinary,
  args: [failingDaemon, how, path, marker],
  startTimeout: Duration.seconds(30),
  ...(log === undefined ? {} : { logFile: log })
})

const startError = (path: string, options: AutoStart.Options) =>
  Effect.flip(AutoStart.request(path, "ping", options)).pipe(
    Effect.map((error) => {
      assert.strictEqual(error._tag, "AutoStartError", String(error))
      return error as AutoStart.AutoStartError
    })
  )

describe("start failures explained", () => {
  it.live("a daemon that exits: its exit code and the last lines it wrote", () =>
    Effect.gen(function*() {
      const marker = yield* daemonMarker
      const path = nodePath.join(marker, "daemon.sock")
      const log = nodePath.join(marker, "daemon.log")
      const error = yield* startError(path, failing("exit", path, marker, log))

      assert.strictEqual(error.reason, "Exited")
      assert.deepStrictEqual(error.exit, { code: 3, signal: null })
      assert.strictEqual(error.logFile, log)
      // The last 20 of its 31 lines, oldest first.
      assert.strictEqual(error.output?.length, 20)
      assert.strictEqual(error.output?.[0], "starting step 12")
      assert.strictEqual(error.output?.[19], "fatal: the configuration file is missing")
      assert.include(error.message, "exited with code 3")
      assert.include(error.message, `the last lines of its log '${log}'`)
      assert.include(error.message, "fatal: the configuration file is missing")
      assert.strictEqual(fs.statSync(log).mode & 0o777, 0o600)
    }))

  it.live("a daemon killed by a signal: the signal, and what it wrote before", () =>
    Effect.gen(function*() {
      const marker = yield* daemonMarker
      const path = nodePath.join(marker, "daemon.sock")
      const log = nodePath.join(marker, "daemon.log")
      const error = yield* startError(path, failing("signal", path, marker, log))
      assert.strictEqual(error.reason, "Exited")
      assert.deepStrictEqual(error.exit, { code: null, signal: "SIGKILL" })
      assert.deepStrictEqual(error.output, ["about to be killed"])
      assert.include(error.message, "was killed by SIGKILL")
    }))

  it.live("a daemon that never listens: a timeout naming it as still running, with its last lines", () =>
    Effect.gen(function*() {
      const marker = yield* daemonMarker
      const path = nodePath.join(marker, "daemon.sock")
      const log = nodePath.join(marker, "daemon.log")
      // Long enough for a bare Node process to say its piece on a loaded machine.
      const options = { ...failing("hang", path, marker, log), startTimeout: Duration.seconds(5) }
      const error = yield* startError(path, options)
      assert.strictEqual(error.reason, "Timeout")
      assert.match(error.message, /\(pid \d+, still running\)/)
      assert.deepStrictEqual(error.output, ["waiting for a lock that never comes"])
    }))

  it.live("a real daemon that cannot listen: the server's own error, from its log", () =>
    Effect.gen(function*() {
      const marker = yield* daemonMarker
      // A socket in a directory that does not exist: the client finds no
      // server, starts one, and the server cannot bind.
      const path = nodePath.join(marker, "missing", "daemon.sock")
      const log = nodePath.join(marker, "daemon.log")
      const error = yield* startError(path, failing("serve", path, marker, log))
      assert.strictEqual(error.reason, "Exited")
      assert.deepStrictEqual(error.exit, { code: 1, signal: null })
      assert.isTrue(error.output!.some((line) => line.includes("ListenError") || line.includes(path)), String(error.output))
    }))

  it.live("only this start's lines are quoted; a log past its size is moved aside first", () =>
    Effect.gen(function*() {
      const marker = yield* daemonMarker
      const path = nodePath.join(marker, "daemon.sock")
      const log = nodePath.join(marker, "daemon.log")
      fs.writeFileSync(log, "an older daemon's line\n")
      const first = yield* startError(path, failing("signal", path, marker, log))
      assert.deepStrictEqual(first.output, ["about to be killed"])
      assert.strictEqual(fs.readFileSync(log, "utf8"), "an older daemon's line\nabout to be killed\n")

      // Past the limit: moved to `.1` (replacing the one before), a new log begun.
      fs.writeFileSync(`${log}.1`, "the oldest log\n")
      const options = { ...failing("exit", path, marker, log), logMaxBytes: 16 }
      const second = yield* startError(path, options)
      assert.strictEqual(second.output?.[19], "fatal: the configuration file is missing")
      assert.strictEqual(fs.readFileSync(`${log}.1`, "utf8"), "an older daemon's line\nabout to be killed\n")
      assert.isTrue(fs.readFileSync(log, "utf8").startsWith("starting step 1\n"))
    }))

  it.live("without a log file, the error says how to see why", () =>
    Effect.gen(function*() {
      const marker = yield* daemonMarker
      const path = nodePath.join(marker, "daemon.sock")
      const error = yield* startError(path, failing("exit", path, marker))
      assert.strictEqual(error.reason, "Exited")
      assert.deepStrictEqual(error.exit, { code: 3, signal: null })
      assert.isUndefined(error.output)
      assert.include(error.message, "name a logFile")
    }))

  it.live("a log file that cannot be opened fails the start before anything runs", () =>
    Effect.gen(function*() {
      const marker = yield* daemonMarker
      const path = nodePath.join(marker, "daemon.sock")
      const log = nodePath.join(marker, "no-such-directory", "daemon.log")
      const error = yield* startError(path, failing("serve", path, marker, log))
      assert.strictEqual(error.reason, "SpawnFailed")
      assert.include(error.message, `cannot open its log file '${log}'`)
      assert.strictEqual((error.cause as NodeJS.ErrnoException).code, "ENOENT")
      assert.isFalse(fs.existsSync(path))
    }))
})
