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
  it.live("computes over JSON requests and turns error answers and malformed requests into typed errors", () =>
    Effect.gen(function*() {
      const tmp = yield* tempDir
      const result = yield* run("typed-protocol", [], tmp)
      assert.strictEqual(result.stderr, "")
      assert.strictEqual(result.code, 0)
      const lines = result.stdout.split("\n")
      // What travelled on the wire is JSON that decodes to the sum.
      const wire = /^wire: (\{.*\}) -> (\{.*\})$/.exec(lines[0]!)
      assert.isNotNull(wire)
      assert.deepStrictEqual(JSON.parse(wire![1]!), { _tag: "Add", a: 2, b: 3 })
      assert.deepStrictEqual(JSON.parse(wire![2]!), { _tag: "Result", value: 2 + 3 })
      assert.include(lines, `2 + 3 -> ${2 + 3}`)
      assert.include(lines, `6 * 7 -> ${6 * 7}`)
      assert.include(lines, `1 / 4 -> ${1 / 4}`)
      assert.include(lines, "1 / 0 -> DivisionByZero: cannot divide 1 by zero")
      const outcome = (label: string) => lines.find((line) => line.startsWith(`${label} -> `))
      // Each malformed request is answered with a BadRequest naming the fault.
      assert.match(outcome("Divide without b")!, /-> BadRequest: .*Missing key/)
      assert.match(outcome("Modulo")!, /-> BadRequest: .*Expected .*"Add"/)
      assert.match(outcome("not JSON")!, /-> BadRequest: .*JSON/)
      assert.deepStrictEqual(fs.readdirSync(tmp), [])
    }))
})
