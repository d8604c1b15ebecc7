/**
 * `send` and `sendbytes` over the command line: the responses Git's client
 * was given in the recorded client cases, with the standard output, error
 * lines and exit code Git's tool printed for each, and binary-safe output.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as nodePath from "node:path"
import { bytes } from "../support/bytes.ts"
import { killAndWait, nodeBinary } from "../support/child.ts"
import { fakeServer } from "../support/raw.ts"
import { tempDir } from "../support/tempdir.ts"
import { clientCases } from "../support/vectors.ts"
import { awaitListening, bin, cli, cliInBackground } from "./harness.ts"

/** The socket path Git's recordings were made with. */
const RECORDED_PATH = "/tmp/bench/f.sock"

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

const daemon = Effect.gen(function*() {
  const path = nodePath.join(yield* tempDir, "ipc")
  yield* cliInBackground(["run-daemon", `--name=${path}`])
  yield* awaitListening(path)
  return path
})

describe("send: Git's recorded client cases", () => {
  for (const vector of clientCases) {
    it.live(`client case: ${vector.name}`, () =>
      Effect.gen(function*() {
        const path = nodePath.join(yield* tempDir, "f.sock")
        yield* fakeServer(path, vector.response)
        const run = yield* cli(["send", `--name=${path}`, "--token=ping"])
        assert.strictEqual(run.code, vector.exit, run.stderr)
        assert.strictEqual(run.stderr, vector.stderr.replaceAll(RECORDED_PATH, path))
        // Git prints with C string functions, so its output stops at the
        // NUL byte of this payload; ours is the exact bytes, then a newline.
        const expected = vector.name === "binary-payload" ? bytes("\x00\x01\xff\x80\x7f\n") : vector.stdout
        assert.strictEqual(hex(run.stdout), hex(expected))
      }))
  }
})

describe("send", () => {
  it.live("writes every byte of a large response exactly, then a newline", () =>
    Effect.gen(function*() {
      const path = nodePath.join(yield* tempDir, "f.sock")
      // Every byte value, many times over, across several packets.
      const payload = Buffer.alloc(200_000)
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 8)) & 0xff
      const framed: Array<Buffer> = []
      for (let at = 0; at < payload.length; at += 65516) {
        const chunk = payload.subarray(at, at + 65516)
        framed.push(Buffer.from((chunk.length + 4).toString(16).padStart(4, "0"), "latin1"), chunk)
      }
      yield* fakeServer(path, Buffer.concat([...framed, Buffer.from("0000")]))
      const run = yield* cli(["send", `--name=${path}`, "--token=anything"])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.isTrue(run.stdout.equals(Buffer.concat([payload, Buffer.from("\n")])))
    }))

  it.live("without --token, or with an empty one, sends (no-command)", () =>
    Effect.gen(function*() {
      const path = yield* daemon
      for (const args of [[], ["--token="]]) {
        const run = yield* cli(["send", `--name=${path}`, ...args])
        assert.strictEqual(run.code, 0, run.stderr)
        assert.strictEqual(run.stdout.toString("latin1"), "unhandled command: (no-command)\n")
      }
    }))

  it.live("sends the token as given, case and spaces included", () =>
    Effect.gen(function*() {
      const path = yield* daemon
      const run = yield* cli(["send", `--name=${path}`, "--token=PING with spaces"])
      assert.strictEqual(run.stdout.toString("latin1"), "unhandled command: PING with spaces\n")
    }))

  it.live("sends a token's bytes as they are, and prints the answer's bytes as they are", () =>
    Effect.gen(function*() {
      const path = yield* daemon
      const run = yield* cli(["send", `--name=${path}`, "--token=café"])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.isTrue(run.stdout.equals(Buffer.from("unhandled command: café\n", "utf8")))
    }))

  it.live("a reader that goes away (| head -1): ends quietly with the status of SIGPIPE, 141", () =>
    Effect.gen(function*() {
      const path = yield* daemon
      const child = yield* Effect.acquireRelease(
        Effect.sync(() => spawn(nodeBinary, [bin, "send", `--name=${path}`, "--token=big"], { stdio: ["ignore", "pipe", "pipe"] })),
        (child) => killAndWait(child, "SIGKILL")
      )
      const { code, stderr } = yield* Effect.callback<{ code: number | null; stderr: string }>((resume) => {
        let stderr = ""
        child.stdout.once("data", () => child.stdout.destroy())
        child.stderr.on("data", (chunk: Buffer) => stderr += chunk.toString())
        child.on("close", (code) => resume(Effect.succeed({ code, stderr })))
      })
      assert.strictEqual(code, 141)
      assert.strictEqual(stderr, "")
    }))

  it.live("a server that closes before its flush: Git's two error lines, nothing on standard output", () =>
    Effect.gen(function*() {
      const path = nodePath.join(yield* tempDir, "f.sock")
      yield* fakeServer(path, bytes("0008pong"))
      const run = yield* cli(["send", `--name=${path}`, "--token=big"])
      assert.strictEqual(run.code, 1)
      assert.strictEqual(run.stdout.length, 0)
      assert.strictEqual(run.stderr, `error: could not read IPC response\nerror: failed to send 'big' to '${path}'\n`)
    }))
})

describe("sendbytes", () => {
  it.live("prints sent:<byte><count> and the response without its trailing newline", () =>
    Effect.gen(function*() {
      const path = yield* daemon
      const run = yield* cli(["sendbytes", `--name=${path}`, "--bytecount=100000", "--byte=A"])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(run.stdout.toString("latin1"), "sent:A00100000 rcvd:A00100000\n")
    }))

  it.live("trims only trailing whitespace of the response, and keeps its bytes", () =>
    Effect.gen(function*() {
      const path = nodePath.join(yield* tempDir, "f.sock")
      yield* fakeServer(path, bytes("000d \xffok \t\r\n\n0000"))
      const run = yield* cli(["sendbytes", `--name=${path}`, "--bytecount=3", "--byte=Z"])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(hex(run.stdout), hex(bytes("sent:Z00000003  \xffok\n")))
    }))

  it.live("a failed request: Git's error lines, exit 1", () =>
    Effect.gen(function*() {
      const path = nodePath.join(yield* tempDir, "f.sock")
      yield* fakeServer(path, bytes("0003"))
      const run = yield* cli(["sendbytes", `--name=${path}`, "--bytecount=5", "--byte=Q"])
      assert.strictEqual(run.code, 1)
      assert.strictEqual(run.stdout.length, 0)
      assert.strictEqual(
        run.stderr,
        "error: protocol error: bad line length 3\nerror: could not read IPC response\n" +
          `error: client failed to sendbytes(5, 'Q') to '${path}'\n`
      )
    }))
})
