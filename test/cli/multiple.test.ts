/**
 * `multiple`: concurrent clients, the accounting of failures, and the
 * progress line, which appears only on a terminal. The progress line is
 * checked in process, running the command line against `Stdio` services
 * that say they are terminals and record what is written.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Sink, Stdio } from "effect"
import * as nodePath from "node:path"
import * as Cli from "../../src/cli/Cli.ts"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { bytes } from "../support/bytes.ts"
import { fakeServer } from "../support/raw.ts"
import { socketPath, tempDir } from "../support/tempdir.ts"
import { cli, lines } from "./harness.ts"

interface Written {
  readonly to: "stdout" | "stderr"
  readonly text: string
}

/**
 * Runs the command line in this process, with standard output and error
 * recorded in the order they are written.
 */
const runInProcess = (argv: ReadonlyArray<string>, terminals: { stdout: boolean; stderr: boolean }) =>
  Effect.gen(function*() {
    const written: Array<Written> = []
    const sink = (to: Written["to"]) => () =>
      Sink.forEach((chunk: string | Uint8Array) =>
        Effect.sync(() => {
          written.push({ to, text: typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("latin1") })
        })
      )
    const exit = yield* Cli.run(argv).pipe(
      Effect.provide(Stdio.layerTest({
        stdout: sink("stdout"),
        stderr: sink("stderr"),
        stdoutIsTerminal: Effect.succeed(terminals.stdout),
        stderrIsTerminal: Effect.succeed(terminals.stderr)
      })),
      Effect.provide(NodeServices.layer),
      Effect.exit
    )
    return { exit, written }
  })

const serve = (threads = 8) =>
  Effect.gen(function*() {
    const path = yield* socketPath()
    yield* Server.make(path, TestApplication.handler, { threads })
    return path
  })

const CLEAR = "\r\x1b[K"

describe("multiple: progress line", () => {
  it.live("drawn in place on a terminal standard error, and cleared at the end", () =>
    Effect.gen(function*() {
      const path = yield* serve()
      const { exit, written } = yield* runInProcess(
        ["multiple", `--name=${path}`, "--threads=4", "--batchsize=25", "--bytecount=10"],
        { stdout: false, stderr: true }
      )
      assert.isTrue(exit._tag === "Success")
      const stderr = written.filter((w) => w.to === "stderr").map((w) => w.text)
      const stdout = written.filter((w) => w.to === "stdout").map((w) => w.text).join("")
      assert.isAbove(stderr.length, 1)
      for (const draw of stderr.slice(0, -1)) assert.match(draw, /^\rmultiple: \d+\/100 requests, 0 failed\x1b\[K$/)
      assert.include(stderr, "\rmultiple: 100/100 requests, 0 failed\x1b[K")
      assert.strictEqual(stderr.at(-1), CLEAR)
      assert.notInclude(stdout, "\x1b")
      assert.strictEqual(stdout.split("\n").filter((line) => line.startsWith("sent:")).length, 100)
      assert.isTrue(stdout.endsWith("client (good 100) (join 0), (errors 0)\n"))
    }))

  it.live("on a terminal shared with standard output, output is never written over the progress line", () =>
    Effect.gen(function*() {
      const path = yield* serve()
      const { exit, written } = yield* runInProcess(
        ["multiple", `--name=${path}`, "--threads=4", "--batchsize=25", "--bytecount=10"],
        { stdout: true, stderr: true }
      )
      assert.isTrue(exit._tag === "Success")
      let progressShown = false
      for (const { to, text } of written) {
        if (to === "stderr") progressShown = text !== CLEAR
        else assert.isFalse(progressShown, `output written after the progress line: ${JSON.stringify(text)}`)
      }
      assert.isTrue(written.some((w) => w.to === "stderr" && w.text.startsWith("\rmultiple: ")))
    }))

  it.live("silent when standard error is not a terminal", () =>
    Effect.gen(function*() {
      const path = yield* serve()
      const { exit, written } = yield* runInProcess(
        ["multiple", `--name=${path}`, "--threads=4", "--batchsize=25"],
        { stdout: true, stderr: false }
      )
      assert.isTrue(exit._tag === "Success")
      assert.deepStrictEqual(written.filter((w) => w.to === "stderr"), [])
    }))

  it.live("silent in a child process whose standard error is a pipe", () =>
    Effect.gen(function*() {
      const path = yield* serve()
      const run = yield* cli(["multiple", `--name=${path}`, "--threads=4", "--batchsize=50"])
      assert.strictEqual(run.code, 0)
      assert.strictEqual(run.stderr, "")
      assert.strictEqual(lines(run).at(-1), "client (good 200) (join 0), (errors 0)")
    }))
})

describe("multiple", () => {
  it.live("runs its clients concurrently: requests that each wait for all the others complete", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const clients = 6
      // Each request is answered only once all six are in the server at
      // once, which clients taking turns would never achieve.
      const everyoneIn = yield* Deferred.make<void>()
      let arrived = 0
      yield* Server.make(path, (request, reply) =>
        Effect.gen(function*() {
          if (++arrived === clients) yield* Deferred.succeed(everyoneIn, undefined)
          yield* Deferred.await(everyoneIn)
          return yield* TestApplication.handler(request, reply)
        }), { threads: clients })
      const run = yield* cli(["multiple", `--name=${path}`, `--threads=${clients}`, "--batchsize=1", "--bytecount=4"])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(lines(run).at(-1), `client (good ${clients}) (join 0), (errors 0)`)
    }))

  it.live("each failed request is reported as it happens, counted, and makes the exit code 1", () =>
    Effect.gen(function*() {
      const path = nodePath.join(yield* tempDir, "f.sock")
      yield* fakeServer(path, bytes("0003"))
      const run = yield* cli(["multiple", `--name=${path}`, "--threads=2", "--batchsize=3", "--bytecount=7"])
      assert.strictEqual(run.code, 1)
      assert.deepStrictEqual(lines(run), ["client (good 0) (join 0), (errors 6)"])
      const reported = run.stderr.split("\n").filter(Boolean)
      assert.strictEqual(reported.length, 18)
      const expected = [["A", 7], ["A", 8], ["A", 9], ["B", 7], ["B", 8], ["B", 9]].map(([letter, n]) =>
        `error: client failed to sendbytes(${n}, '${letter}') to '${path}'`
      ).sort()
      assert.deepStrictEqual(reported.filter((line) => line.includes("client failed")).sort(), expected)
      assert.strictEqual(reported.filter((line) => line === "error: protocol error: bad line length 3").length, 6)
      assert.strictEqual(reported.filter((line) => line === "error: could not read IPC response").length, 6)
    }))
})
