/**
 * The daemon subcommands over the command line: `run-daemon` stopping on
 * `quit` and on signals, `start-daemon` detaching its daemon and reporting
 * one that cannot start, `stop-daemon`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import * as Client from "../../src/client/Client.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { text } from "../support/bytes.ts"
import { waitUntil } from "../support/raw.ts"
import { tempDir } from "../support/tempdir.ts"
import { awaitListening, cli, cliInBackground, daemonsOf, listening, reapDaemons } from "./harness.ts"

const socketIn = Effect.map(tempDir, (dir) => nodePath.join(dir, "ipc"))

/**
 * Starts a `slow` request (1000 lines, 10 ms apart) and returns once its
 * first line has arrived, with the fiber collecting the whole response.
 */
const slowRequestUnderway = (path: string) =>
  Effect.gen(function*() {
    const started = yield* Deferred.make<void>()
    const response = yield* Effect.forkChild(
      Client.requestStream(path, "slow").pipe(
        Stream.tap(() => Deferred.succeed(started, undefined)),
        Stream.runCollect,
        Effect.map((chunks) => text(Buffer.concat(chunks)))
      )
    )
    yield* Deferred.await(started)
    return response
  })

describe("run-daemon", () => {
  it.live("serves until a client sends quit, then removes its socket and exits 0", () =>
    Effect.gen(function*() {
      const path = yield* socketIn
      const daemon = yield* cliInBackground(["run-daemon", `--name=${path}`])
      yield* awaitListening(path)
      assert.strictEqual(text(yield* Client.request(path, "ping")), "pong")
      assert.strictEqual((yield* Client.request(path, "quit")).length, 0)
      const run = yield* daemon.done
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(run.stdout.length, 0)
      assert.strictEqual(run.stderr, "")
      assert.isFalse(fs.existsSync(path))
    }))

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it.live(`${signal} during a slow response: the response completes, the socket is removed, exit 128 + signal`, () =>
      Effect.gen(function*() {
        const path = yield* socketIn
        const daemon = yield* cliInBackground(["run-daemon", `--name=${path}`])
        yield* awaitListening(path)
        const response = yield* slowRequestUnderway(path)
        daemon.child.kill(signal)
        const body = yield* Fiber.join(response)
        const rows = body.split("\n").filter(Boolean)
        assert.strictEqual(rows.length, 1000)
        assert.strictEqual(`${rows.at(-1)}\n`, TestApplication.row(999))
        const run = yield* daemon.done
        assert.strictEqual(run.code, 128 + os.constants.signals[signal])
        assert.strictEqual(run.signal, null)
        assert.strictEqual(run.stderr, "")
        assert.isFalse(fs.existsSync(path))
      }), 30_000)
  }

  it.live("a second signal stops it at once, without waiting for responses in flight", () =>
    Effect.gen(function*() {
      const path = yield* socketIn
      const daemon = yield* cliInBackground(["run-daemon", `--name=${path}`])
      yield* awaitListening(path)
      const response = yield* slowRequestUnderway(path)
      daemon.child.kill("SIGTERM")
      // The first signal has been taken in once new clients are refused.
      yield* waitUntil(Effect.map(listening(path), (live) => !live))
      daemon.child.kill("SIGTERM")
      const run = yield* daemon.done
      assert.strictEqual(run.code, 143)
      // The slow response was cut short: the client sees an incomplete message.
      const exit = yield* Fiber.await(response)
      assert.isTrue(Exit.isFailure(exit))
    }), 30_000)

  it.live("a second run-daemon on a live path fails with Git's message, and the first keeps serving", () =>
    Effect.gen(function*() {
      const path = yield* socketIn
      yield* cliInBackground(["run-daemon", `--name=${path}`])
      yield* awaitListening(path)
      const second = yield* cli(["run-daemon", `--name=${path}`])
      assert.strictEqual(second.code, 1)
      assert.strictEqual(second.stderr, `error: socket/pipe already in use: '${path}'\n`)
      assert.strictEqual(text(yield* Client.request(path, "ping")), "pong")
    }))

  it.live("a path that is not a socket is refused with a message, exit 1, no stack trace", () =>
    Effect.gen(function*() {
      const path = yield* socketIn
      fs.writeFileSync(path, "precious")
      const run = yield* cli(["run-daemon", `--name=${path}`])
      assert.strictEqual(run.code, 1)
      assert.match(run.stderr, new RegExp(`^error: could not start server on: '${path}'`))
      assert.notInclude(run.stderr, "    at ")
      assert.strictEqual(fs.readFileSync(path, "utf8"), "precious")
    }))
})

describe("start-daemon", () => {
  it.live("leaves the daemon running in its own session, with no terminal or pipes, after it exits", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* reapDaemons(dir)
      const path = nodePath.join(dir, "ipc")
      const run = yield* cli(["start-daemon", `--name=${path}`, "--threads=3"])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(run.stdout.length + run.stderr.length, 0)
      assert.isTrue(yield* listening(path))
      const [pid, ...others] = daemonsOf(dir)
      assert.isDefined(pid)
      assert.deepStrictEqual(others, [])
      // Its own session (it is the leader), so a hang-up of ours is not its.
      const session = execFileSync("ps", ["-o", "sid=", "-p", String(pid)], { encoding: "utf8" }).trim()
      assert.strictEqual(session, String(pid))
      for (const fd of [0, 1, 2]) assert.strictEqual(fs.readlinkSync(`/proc/${pid}/fd/${fd}`), "/dev/null")
      assert.include(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0"), "--threads=3")
    }))

  it.live("reports a daemon that died at once, without waiting for --max-wait", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* reapDaemons(dir)
      // Nothing can be created in a missing directory: the daemon exits 1.
      const path = nodePath.join(dir, "missing", "ipc")
      const started = Date.now()
      const run = yield* cli(["start-daemon", `--name=${path}`])
      assert.isBelow(Date.now() - started, 30_000)
      assert.strictEqual(run.code, 1)
      assert.strictEqual(
        run.stderr,
        `error: daemon terminated: it exited with code 1 before listening at '${path}'; ` +
          `run 'simple-ipc run-daemon --name=${path}' to see its error\n`
      )
    }))

  it.live("fails at once when the path can never be a socket", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* reapDaemons(dir)
      const path = nodePath.join(dir, "ipc")
      fs.writeFileSync(path, "precious")
      const run = yield* cli(["start-daemon", `--name=${path}`])
      assert.strictEqual(run.code, 1)
      assert.strictEqual(run.stderr, `error: daemon failed to start: invalid pipe/socket name '${path}'\n`)
      assert.strictEqual(fs.readFileSync(path, "utf8"), "precious")
    }))
})

describe("stop-daemon", () => {
  it.live("stops a daemon started in the background; the daemon process is gone", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* reapDaemons(dir)
      const path = nodePath.join(dir, "ipc")
      assert.strictEqual((yield* cli(["start-daemon", `--name=${path}`])).code, 0)
      assert.lengthOf(daemonsOf(dir), 1)
      const run = yield* cli(["stop-daemon", `--name=${path}`])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(run.stdout.length + run.stderr.length, 0)
      assert.isFalse(yield* listening(path))
      assert.isFalse(fs.existsSync(path))
      yield* waitUntil(Effect.sync(() => daemonsOf(dir).length === 0))
    }))
})
