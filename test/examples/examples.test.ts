/**
 * The examples, run the way a reader runs them: as separate Node processes,
 * their printed output checked against values computed here.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import type { ChildProcess } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"
import * as Client from "../../src/client/Client.ts"
import { killAndWait, spawnScoped } from "../support/child.ts"
import { waitUntil } from "../support/raw.ts"
import { socketPath, tempDir } from "../support/tempdir.ts"
import { listening } from "../support/probe.ts"
import { killAllOnClose, processesWith } from "../support/processes.ts"

const example = (name: string) => fileURLToPath(new URL(`../../examples/${name}.ts`, import.meta.url))

interface Finished {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Starts collecting a child's output at once (so nothing is missed) and
 * returns an effect that waits until it has exited and its pipes closed.
 */
const watch = (child: ChildProcess): Effect.Effect<Finished> => {
  let stdout = ""
  let stderr = ""
  child.stdout!.setEncoding("utf8").on("data", (data: string) => (stdout += data))
  child.stderr!.setEncoding("utf8").on("data", (data: string) => (stderr += data))
  const closed = new Promise<Finished>((resolve) =>
    child.once("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  )
  return Effect.promise(() => closed)
}

/** Spawns an example in this test's scope; `tmp` becomes the child's temp directory. */
const start = (name: string, args: ReadonlyArray<string>, tmp?: string) =>
  Effect.map(
    spawnScoped([example(name), ...args], { stdio: "pipe", ...(tmp === undefined ? {} : { env: { TMPDIR: tmp } }) }),
    (child) => ({ child, finished: watch(child) })
  )

/** Runs an example to completion. */
const run = (name: string, args: ReadonlyArray<string>, tmp?: string) =>
  Effect.flatMap(start(name, args, tmp), ({ finished }) => finished)


/** What the daemon's `numbers <n>` response is, computed independently of the example. */
const expectedNumbers = (n: number) => {
  const text = Array.from({ length: n }, (_, i) => `${i + 1}\n`).join("")
  return `lines=${n} bytes=${Buffer.byteLength(text)} sha256=${createHash("sha256").update(text).digest("hex")}\n`
}

describe("examples/minimal.ts", () => {
  it.live("prints the upper-cased answer, exits 0 and leaves nothing in its temp directory", () =>
    Effect.gen(function*() {
      const tmp = yield* tempDir
      const result = yield* run("minimal", [], tmp)
      assert.strictEqual(result.stderr, "")
      assert.strictEqual(result.code, 0)
      assert.strictEqual(result.stdout, `${"hello, simple ipc".toUpperCase()}\n`)
      assert.deepStrictEqual(fs.readdirSync(tmp), [])
    }))
})

describe("examples/daemon-layer.ts", () => {
  it.live("with no arguments, serves and fetches a million lines in one process", () =>
    Effect.gen(function*() {
      const tmp = yield* tempDir
      const result = yield* run("daemon-layer", [], tmp)
      assert.strictEqual(result.stderr, "")
      assert.strictEqual(result.code, 0)
      assert.strictEqual(result.stdout, expectedNumbers(1_000_000))
      assert.deepStrictEqual(fs.readdirSync(tmp), [])
    }))

  it.live("serve and fetch in separate processes; SIGTERM stops the daemon cleanly and removes its socket", () =>
    Effect.gen(function*() {
      const path = yield* socketPath("numbers.sock")
      const daemon = yield* start("daemon-layer", ["serve", path])
      yield* waitUntil(listening(path), Duration.seconds(30))

      for (const n of [0, 1, 250_000]) {
        const fetched = yield* run("daemon-layer", ["fetch", path, String(n)])
        assert.strictEqual(fetched.stderr, "")
        assert.strictEqual(fetched.code, 0)
        assert.strictEqual(fetched.stdout, expectedNumbers(n))
      }

      yield* killAndWait(daemon.child, "SIGTERM")
      const stopped = yield* daemon.finished
      assert.strictEqual(stopped.stderr, "")
      assert.strictEqual(stopped.signal, null)
      assert.strictEqual(stopped.code, 0)
      assert.strictEqual(stopped.stdout, `serving at ${path}\nstopped\n`)
      assert.deepStrictEqual(fs.readdirSync(nodePath.dirname(path)), [])
    }))

  it.live("a `quit` request stops the daemon, which exits 0 and removes its socket", () =>
    Effect.gen(function*() {
      const path = yield* socketPath("numbers.sock")
      const daemon = yield* start("daemon-layer", ["serve", path])
      yield* waitUntil(listening(path), Duration.seconds(30))
      const answer = yield* Client.request(path, "quit")
      assert.strictEqual(answer.length, 0)
      const stopped = yield* daemon.finished
      assert.strictEqual(stopped.stderr, "")
      assert.strictEqual(stopped.code, 0)
      assert.strictEqual(stopped.stdout, `serving at ${path}\nstopped\n`)
      assert.deepStrictEqual(fs.readdirSync(nodePath.dirname(path)), [])
    }))

  it.live("fetch from a path where nothing listens fails with the client's message", () =>
    Effect.gen(function*() {
      const path = yield* socketPath("nobody.sock")
      const result = yield* run("daemon-layer", ["fetch", path, "10"])
      assert.strictEqual(result.code, 1)
      // runMain reports the failure through Effect's default logger.
      assert.include(result.stdout + result.stderr, `ConnectError: path not found '${path}'`)
      assert.notMatch(result.stdout, /^lines=/m)
    }))
})

describe("examples/typed-protocol.ts", () => {
  it.live("divides, fails typed on a zero divisor, streams a count, and shows the plain wire", () =>
    Effect.gen(function*() {
      const tmp = yield* tempDir
      const result = yield* run("typed-protocol", [], tmp)
      assert.strictEqual(result.stderr, "")
      assert.strictEqual(result.code, 0)
      assert.deepStrictEqual(result.stdout.split("\n"), [
        `1 / 4 = ${1 / 4}`,
        "1 / 0: cannot divide 1 by zero",
        "count to 5: 1 2 3 4 5",
        `wire: divide {"a":6,"b":3} -> ${JSON.stringify(String(6 / 3))}`,
        `wire: divide {"a":1,"b":0} -> ${JSON.stringify(`fail ${JSON.stringify({ _tag: "DivideByZero", dividend: 1 })}`)}`,
        `wire: count {"to":3} -> ${JSON.stringify("1\n2\n3\n")}`,
        ""
      ])
      assert.deepStrictEqual(fs.readdirSync(tmp), [])
    }))

  it.live("serve is a launched layer: call talks to it, and stop ends its process and removes its socket", () =>
    Effect.gen(function*() {
      const path = yield* socketPath("calculator.sock")
      const daemon = yield* start("typed-protocol", ["serve", path])
      yield* waitUntil(listening(path), Duration.seconds(30))
      const called = yield* run("typed-protocol", ["call", path, "7", "2"])
      assert.strictEqual(called.stderr, "")
      assert.strictEqual(called.stdout, `7 / 2 = ${7 / 2}\ncount to 3: 1 2 3\n`)
      const stopped = yield* run("typed-protocol", ["stop", path])
      assert.strictEqual(stopped.code, 0, stopped.stderr)
      const ended = yield* daemon.finished
      // The launched layer is interrupted when its server stops: runMain's 130.
      assert.strictEqual(ended.code, 130, ended.stderr)
      assert.deepStrictEqual(fs.readdirSync(nodePath.dirname(path)), [])
    }))
})

/** The `autostart.ts serve` daemons running for `path` (Linux: their command line names it). */
const autostartDaemons = (path: string): Array<number> => processesWith(example("autostart"), "serve", path)

describe("examples/autostart.ts", () => {
  it.live("the first hello starts the daemon, the second finds it; stop ends it and leaves nothing", () =>
    Effect.gen(function*() {
      const path = yield* socketPath("greeter.sock")
      // The daemon is detached: make sure it does not outlive the test.
      yield* killAllOnClose(path)
      const first = yield* run("autostart", ["hello", path])
      assert.strictEqual(first.code, 0, first.stderr)
      const daemons = autostartDaemons(path)
      assert.strictEqual(daemons.length, 1)
      assert.strictEqual(first.stdout, `answered by daemon ${daemons[0]}\n`)
      const second = yield* run("autostart", ["hello", path])
      assert.strictEqual(second.stdout, first.stdout)

      const stopped = yield* run("autostart", ["stop", path])
      assert.strictEqual(stopped.code, 0, stopped.stderr)
      yield* waitUntil(Effect.sync(() => autostartDaemons(path).length === 0), Duration.seconds(2))
      assert.deepStrictEqual(fs.readdirSync(nodePath.dirname(path)), [])
    }))
})
