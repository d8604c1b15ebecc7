/**
 * The options of the command line: every default and every clamping rule
 * of Git's tool, observed through what the subcommands do, and socket paths
 * longer than the kernel's limit for every subcommand.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as nodePath from "node:path"
import { bytes } from "../support/bytes.ts"
import { fakeServer, waitUntil } from "../support/raw.ts"
import { tempDir } from "../support/tempdir.ts"
import { awaitListening, cli, cliInBackground, lines, listening, reapDaemons } from "./harness.ts"

const daemonAt = (path: string, ...options: Array<string>) =>
  Effect.andThen(cliInBackground(["run-daemon", `--name=${path}`, ...options]), awaitListening(path))

const socketIn = Effect.map(tempDir, (dir) => nodePath.join(dir, "ipc"))

/**
 * Clients that each send `slow` (1000 lines, 10 ms apart) and count the
 * lines that come back, to see how many requests the server serves at once.
 */
const slowClients = (path: string, count: number) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      Array.from({ length: count }, () => {
        const client = { lines: 0, socket: net.connect(path) }
        client.socket.on("error", () => {})
        client.socket.on("connect", () => client.socket.write("0008slow0000"))
        client.socket.on("data", (chunk: Buffer) => {
          for (const byte of chunk) if (byte === 10) client.lines++
        })
        return client
      })
    ),
    (clients) => Effect.sync(() => clients.forEach((client) => client.socket.destroy()))
  )

/**
 * How many of `count` concurrent `slow` requests the server at `path`
 * serves at once. Once `expected` of them are streaming, each further
 * request is given 300 ms (30 lines of the busiest) to start as well: one
 * served at the same time would start within milliseconds, one waiting for
 * a worker would not start for seconds.
 */
const servedAtOnce = (path: string, count: number, expected: number) =>
  Effect.gen(function*() {
    const clients = yield* slowClients(path, count)
    const started = () => clients.filter((client) => client.lines > 0).length
    yield* waitUntil(Effect.sync(() => started() >= expected))
    const mark = Math.max(...clients.map((client) => client.lines))
    yield* waitUntil(Effect.sync(() => clients.some((client) => client.lines >= mark + 30)))
    return started()
  })

describe("--name", () => {
  it.live("defaults to ipc-test in the working directory", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const elsewhere = yield* tempDir
      yield* cliInBackground(["run-daemon"], { cwd: dir })
      yield* awaitListening(nodePath.join(dir, "ipc-test"))
      assert.strictEqual((yield* cli(["is-active"], { cwd: dir })).code, 0)
      assert.strictEqual((yield* cli(["send", "--token=ping"], { cwd: dir })).stdout.toString(), "pong\n")
      const other = yield* cli(["is-active"], { cwd: elsewhere })
      assert.strictEqual(other.code, 1)
      assert.strictEqual(other.stderr, "error: no server listening at 'ipc-test'\n")
    }))

  it.live("longer than the kernel's socket path limit works for every subcommand", () =>
    Effect.gen(function*() {
      const root = yield* tempDir
      yield* reapDaemons(root)
      const dir = nodePath.join(root, "d".repeat(60), "e".repeat(60))
      fs.mkdirSync(dir, { recursive: true })
      const path = nodePath.join(dir, "ipc-test")
      assert.isAbove(Buffer.byteLength(path), 108)
      const name = `--name=${path}`

      const before = yield* cli(["is-active", name])
      assert.strictEqual(before.stderr, `error: no server listening at '${path}'\n`)

      const started = yield* cli(["start-daemon", name])
      assert.strictEqual(started.code, 0, started.stderr)
      assert.isTrue(fs.lstatSync(path).isSocket())
      assert.strictEqual((yield* cli(["is-active", name])).code, 0)
      assert.strictEqual((yield* cli(["send", name, "--token=ping"])).stdout.toString(), "pong\n")
      assert.strictEqual(
        (yield* cli(["sendbytes", name, "--bytecount=1000", "--byte=L"])).stdout.toString(),
        "sent:L00001000 rcvd:L00001000\n"
      )
      // Git's multi-threaded client refuses such a path (it would have to
      // change directory); ours reaches it without changing directory.
      const many = yield* cli(["multiple", name, "--threads=3", "--batchsize=4"])
      assert.strictEqual(many.code, 0, many.stderr)
      assert.strictEqual(lines(many).at(-1), "client (good 12) (join 0), (errors 0)")
      const second = yield* cli(["run-daemon", name])
      assert.strictEqual(second.code, 1)
      assert.strictEqual(second.stderr, `error: socket/pipe already in use: '${path}'\n`)
      const stopped = yield* cli(["stop-daemon", name])
      assert.strictEqual(stopped.code, 0, stopped.stderr)
      assert.strictEqual((yield* cli(["is-active", name])).code, 1)
      assert.isFalse(fs.existsSync(path))

      // In the foreground, until a client sends quit: then exit 0.
      const daemon = yield* cliInBackground(["run-daemon", name])
      yield* awaitListening(path)
      assert.strictEqual((yield* cli(["stop-daemon", name])).code, 0)
      const ended = yield* daemon.done
      assert.strictEqual(ended.code, 0, ended.stderr)
      assert.strictEqual(ended.stderr, "")

      // SUPPORTS_SIMPLE_IPC takes no options at all, as in Git's tool.
      assert.strictEqual((yield* cli(["SUPPORTS_SIMPLE_IPC"])).code, 0)
      assert.strictEqual((yield* cli(["SUPPORTS_SIMPLE_IPC", name])).code, 1)
    }), 60_000)
})

describe("--threads", () => {
  for (
    const [options, expected] of [
      [[], 5],
      [["--threads=2"], 2],
      [["--threads=0"], 1],
      [["--threads=-3"], 1]
    ] as const
  ) {
    it.live(`run-daemon ${options.join(" ") || "(default)"} serves ${expected} request(s) at once`, () =>
      Effect.gen(function*() {
        const path = yield* socketIn
        yield* daemonAt(path, ...options)
        assert.strictEqual(yield* servedAtOnce(path, expected + 1, expected), expected)
      }))
  }

  for (
    const [options, letters] of [
      [[], "ABCDE"],
      [["--threads=0"], "A"],
      [["--threads=-1"], "A"],
      [["--threads=28"], "ABCDEFGHIJKLMNOPQRSTUVWXYZAB"]
    ] as const
  ) {
    it.live(`multiple ${options.join(" ") || "(default)"} runs clients ${letters}`, () =>
      Effect.gen(function*() {
        const path = yield* socketIn
        yield* daemonAt(path, "--threads=8")
        const run = yield* cli(["multiple", `--name=${path}`, "--batchsize=2", "--bytecount=3", ...options])
        assert.strictEqual(run.code, 0, run.stderr)
        const sent = lines(run).slice(0, -1).sort()
        // Clients 26 and up start batchsize × ⌊k / 26⌋ bytes further on.
        const expected = [...letters].flatMap((letter, k) => {
          const start = 3 + 2 * Math.floor(k / 26)
          return [start, start + 1].map((n) => {
            const count = String(n).padStart(8, "0")
            return `sent:${letter}${count} rcvd:${letter}${count}`
          })
        }).sort()
        assert.deepStrictEqual(sent, expected)
        assert.strictEqual(lines(run).at(-1), `client (good ${letters.length * 2}) (join 0), (errors 0)`)
      }))
  }
})

describe("--bytecount, --batchsize, --byte", () => {
  for (
    const [options, expected] of [
      [[], "sent:x00001024 rcvd:x00001024"],
      [["--bytecount=0"], "sent:x00000001 rcvd:x00000001"],
      [["--bytecount=-7", "--byte=Qrs"], "sent:Q00000001 rcvd:Q00000001"],
      [["--bytecount=70000", "--byte="], "sent:x00070000 rcvd:x00070000"]
    ] as const
  ) {
    it.live(`sendbytes ${options.join(" ") || "(default)"} prints ${expected}`, () =>
      Effect.gen(function*() {
        const path = yield* socketIn
        yield* daemonAt(path)
        const run = yield* cli(["sendbytes", `--name=${path}`, ...options])
        assert.strictEqual(run.code, 0, run.stderr)
        assert.strictEqual(run.stdout.toString("latin1"), `${expected}\n`)
      }))
  }

  it.live("--byte takes the first byte of a multi-byte character, as Git's tool does", () =>
    Effect.gen(function*() {
      const path = yield* socketIn
      yield* daemonAt(path)
      const run = yield* cli(["sendbytes", `--name=${path}`, "--bytecount=2", "--byte=é"])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.isTrue(run.stdout.equals(Buffer.from(bytes("sent:\xc300000002 rcvd:\xc300000002\n"))))
    }))

  for (
    const [options, counts] of [
      [[], [1024, 1025, 1026, 1027, 1028, 1029, 1030, 1031, 1032, 1033]],
      [["--batchsize=0", "--bytecount=0"], [1]],
      [["--batchsize=-4", "--bytecount=5"], [5]],
      [["--batchsize=3", "--bytecount=-2"], [1, 2, 3]]
    ] as const
  ) {
    it.live(`multiple --threads=1 ${options.join(" ") || "(default)"} sends ${counts.length} request(s)`, () =>
      Effect.gen(function*() {
        const path = yield* socketIn
        yield* daemonAt(path)
        const run = yield* cli(["multiple", `--name=${path}`, "--threads=1", ...options])
        assert.strictEqual(run.code, 0, run.stderr)
        assert.deepStrictEqual(lines(run), [
          ...counts.map((n) => {
            const count = String(n).padStart(8, "0")
            return `sent:A${count} rcvd:A${count}`
          }),
          `client (good ${counts.length}) (join 0), (errors 0)`
        ])
      }))
  }
})

/**
 * A server that answers every request with an empty response and never
 * quits; `quit` completes when it has received a `quit` request.
 */
const stubbornServer = (path: string) =>
  Effect.gen(function*() {
    const quit = yield* Deferred.make<void>()
    const server = yield* fakeServer(path, bytes("0000"))
    server.on("connection", (socket: net.Socket) =>
      socket.on("data", (chunk: Buffer) => {
        if (chunk.includes("quit")) Deferred.doneUnsafe(quit, Effect.void)
      }))
    return { server, quit: Deferred.await(quit) }
  })

describe("--max-wait", () => {
  it.live("stop-daemon --max-wait=-5 gives up at once, like 0; --max-wait=3 waits 3 s", () =>
    Effect.gen(function*() {
      const path = yield* socketIn
      yield* stubbornServer(path)
      const message = (seconds: number) =>
        `error: daemon has not shutdown yet: '${path}' is still listening after ${seconds} s\n`

      let started = Date.now()
      const negative = yield* cli(["stop-daemon", `--name=${path}`, "--max-wait=-5"])
      const quick = Date.now() - started
      assert.strictEqual(negative.code, 1)
      assert.strictEqual(negative.stderr, message(0))

      started = Date.now()
      const three = yield* cli(["stop-daemon", `--name=${path}`, "--max-wait=3"])
      assert.strictEqual(three.code, 1)
      assert.strictEqual(three.stderr, message(3))
      assert.isAtLeast(Date.now() - started, 3000)
      assert.isBelow(quick, 3000)
    }), 30_000)

  it.live("stop-daemon waits longer than a moment by default, and succeeds once the server stops", () =>
    Effect.gen(function*() {
      const path = yield* socketIn
      const stubborn = yield* stubbornServer(path)
      const stop = yield* cliInBackground(["stop-daemon", `--name=${path}`])
      yield* stubborn.quit
      // What is measured is the waiting itself: still waiting after 1.5 s.
      yield* Effect.sleep(Duration.millis(1500))
      assert.strictEqual(stop.child.exitCode, null)
      yield* Effect.callback<void>((resume) => {
        stubborn.server.close(() => resume(Effect.void))
      })
      assert.isFalse(yield* listening(path))
      const run = yield* stop.done
      assert.strictEqual(run.code, 0, run.stderr)
    }), 30_000)

  it.live("start-daemon --max-wait=-5 gives up at once, like 0, and leaves the daemon starting", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* reapDaemons(dir)
      const path = nodePath.join(dir, "ipc")
      const run = yield* cli(["start-daemon", `--name=${path}`, "--max-wait=-5"])
      assert.strictEqual(run.code, 1)
      assert.strictEqual(
        run.stderr,
        `error: daemon not online yet: nothing listening at '${path}' after 0 s; it may still be starting\n`
      )
      // As with Git's tool, the daemon carries on starting.
      yield* awaitListening(path)
    }))
})
