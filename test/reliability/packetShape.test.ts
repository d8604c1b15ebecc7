/**
 * Memory follows a message's payload, not its packet count: requests and
 * responses made of 1-byte packets (five wire bytes per payload byte, a
 * view object per packet if kept as they come) are read by a server and by
 * a client within about twice their size limit, and streams of them within
 * a constant. Each side runs in a child process of its own, which reports
 * its peak resident set (the kernel's high-water mark), so that the figures
 * are its own.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import { fileURLToPath } from "node:url"
import { spawnScoped } from "../support/child.ts"
import { listening } from "../support/probe.ts"
import { waitUntil } from "../support/raw.ts"
import { socketPath } from "../support/tempdir.ts"
import type { ClientReport, Memory } from "./memoryPeer.ts"

const MiB = 1024 * 1024
const peer = fileURLToPath(new URL("./memoryPeer.ts", import.meta.url))

/**
 * Memory a process may take beyond its messages: garbage not yet collected
 * (each socket read is a buffer of its own, freed at the next collection)
 * and the young generation. Generous: before messages were bounded by
 * shape, a message of 1-byte packets cost about a hundred times its size.
 */
const SLACK = 96 * MiB

/** How much the resident set grew over the period a report covers. */
const growth = (memory: Memory) => memory.peakRss - memory.rssAtReset

/** `n` payload bytes as 1-byte packets, `0005x` each, in buffers of 1 MiB of payload at most. */
function* oneBytePackets(n: number): Generator<Uint8Array> {
  const full = Buffer.alloc(5 * MiB, "0005x")
  for (let left = n; left > 0; left -= MiB) yield left >= MiB ? full : full.subarray(0, 5 * left)
}

/**
 * Payload as runs of 1-byte packets with a 1 KiB packet every 64 KiB of
 * wire: each socket read holds a payload large enough to be worth a view
 * but a small share of the read, so keeping the views would keep five
 * times the payload alive.
 */
function* mixedPackets(n: number): Generator<Uint8Array> {
  const large = Buffer.alloc(1028, "x")
  large.write("0404", "latin1")
  const unit = Buffer.concat([large, Buffer.alloc(5 * 12_900, "0005x")])
  const perUnit = 1024 + 12_900
  const batch = Buffer.concat(Array.from({ length: 16 }, () => unit))
  let left = n
  for (; left >= 16 * perUnit; left -= 16 * perUnit) yield batch
  yield* oneBytePackets(left)
}

/**
 * Sends `wire`, then a flush, on a new connection to `path`, and reads what
 * comes back until the server closes: the response, or nothing if the
 * request was dropped (our writes then fail; that is expected).
 */
const send = (path: string, wire: Iterable<Uint8Array>) =>
  Effect.callback<string>((resume) => {
    const pieces = wire[Symbol.iterator]()
    const received: Array<Buffer> = []
    const socket = net.connect({ path, allowHalfOpen: true })
    const pump = () => {
      for (;;) {
        const next = pieces.next()
        if (next.done) return void socket.end("0000")
        if (!socket.write(next.value)) return
      }
    }
    socket.on("connect", pump)
    socket.on("drain", pump)
    socket.on("data", (chunk: Buffer) => received.push(chunk))
    socket.on("error", () => socket.destroy())
    // A server that drops the request may only half-close: stop sending then.
    socket.on("end", () => socket.destroy())
    socket.on("close", () => resume(Effect.succeed(Buffer.concat(received).toString("latin1"))))
    return Effect.sync(() => socket.destroy())
  })

/** The next JSON object a child prints on a line of its own (its log lines are skipped). */
const nextReport = <A>(child: ChildProcess) =>
  Effect.callback<A>((resume) => {
    let text = ""
    const onData = (chunk: Buffer) => {
      text += chunk.toString("utf8")
      for (let end = text.indexOf("\n"); end >= 0; end = text.indexOf("\n")) {
        const line = text.slice(0, end)
        text = text.slice(end + 1)
        if (!line.startsWith("{")) continue
        child.stdout!.off("data", onData)
        return resume(Effect.succeed(JSON.parse(line) as A))
      }
    }
    child.stdout!.on("data", onData)
    return Effect.sync(() => child.stdout!.off("data", onData))
  })

/** A server in a child process; `measure` reports its memory since the last measure. */
const startServer = (path: string, maxRequestBytes?: number) =>
  Effect.gen(function*() {
    const child = yield* spawnScoped(
      ["--expose-gc", peer, "server", path, ...(maxRequestBytes === undefined ? [] : [String(maxRequestBytes)])],
      { stdio: "pipe" }
    )
    yield* waitUntil(listening(path))
    const measure = Effect.suspend(() => {
      const line = nextReport<Memory>(child)
      child.kill("SIGUSR2")
      return line
    })
    // Start-up is not what is measured.
    yield* measure
    return measure
  })

/**
 * A server at `path` that answers every request with 1-byte packets, for
 * ever: it writes as fast as the client reads, and stops when the client
 * goes.
 */
const endlessServer = (path: string) =>
  Effect.acquireRelease(
    Effect.callback<net.Server, Error>((resume) => {
      const packets = Buffer.alloc(5 * MiB, "0005x")
      const server = net.createServer({ allowHalfOpen: true }, (socket) => {
        socket.on("error", () => socket.destroy())
        socket.once("data", () => {
          const pump = () => {
            while (!socket.destroyed && socket.write(packets));
          }
          socket.on("drain", pump)
          pump()
        })
      })
      server.on("error", (error) => resume(Effect.fail(error)))
      server.listen(path, () => resume(Effect.succeed(server)))
    }),
    (server) =>
      Effect.callback<void>((resume) => {
        server.close(() => resume(Effect.void))
        fs.rmSync(server.address() as string, { force: true })
      })
  )

/** Runs a client peer against `path` to its end and returns its report. */
const runClient = (mode: "request" | "stream" | "forEach", path: string, bytes: number) =>
  Effect.gen(function*() {
    const child = yield* spawnScoped(["--expose-gc", peer, mode, path, String(bytes)], { stdio: "pipe" })
    return yield* nextReport<ClientReport>(child)
  })

describe("a server reading requests of tiny packets", () => {
  it.live("rejects a request of 1-byte packets over the default limit (64 MiB) holding at most about twice the limit", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const measure = yield* startServer(path)
      // 64 MiB and one byte of payload: 320 MiB on the wire.
      const answer = yield* send(path, oneBytePackets(64 * MiB + 1))
      assert.strictEqual(answer, "")
      const memory = yield* measure
      assert.isAtMost(growth(memory), 2 * 64 * MiB + SLACK)
      // The server goes on serving.
      assert.include(yield* send(path, oneBytePackets(3)), "3")
    }), 60_000)

  it.live("serves a request of 1-byte packets at its limit, holding about twice the request", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const limit = 16 * MiB
      const measure = yield* startServer(path, limit)
      const answer = yield* send(path, oneBytePackets(limit))
      // The handler answers the length of the request it got.
      assert.strictEqual(answer, `000c${limit}0000`)
      assert.isAtMost(growth(yield* measure), 2 * limit + SLACK)
    }), 60_000)

  it.live("keeps no piece alive for a small share of it: 1 KiB payloads among 1-byte packets cost no more", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const limit = 48 * MiB
      const measure = yield* startServer(path, limit)
      const answer = yield* send(path, mixedPackets(limit))
      assert.strictEqual(answer, `000c${limit}0000`)
      // Keeping the views would hold about five times the limit.
      assert.isAtMost(growth(yield* measure), 2 * limit + SLACK)
    }), 60_000)
})

describe("a client reading responses of tiny packets", () => {
  it.live("Client.request fails with MessageTooLarge at maxResponseBytes, holding at most about twice it", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* endlessServer(path)
      const limit = 32 * MiB
      const report = yield* runClient("request", path, limit)
      assert.strictEqual(report.outcome, "PktLineError:MessageTooLarge")
      assert.isAtMost(growth(report.memory), 2 * limit + SLACK)
    }), 60_000)

  // requestForEach reads into one buffer; requestStream allocates one per
  // read, which stays until the next collection.
  for (const [mode, slack] of [["stream", SLACK], ["forEach", 32 * MiB]] as const) {
    it.live(`${mode === "stream" ? "requestStream" : "requestForEach"} reads an endless response in few chunks and constant memory`, () =>
      Effect.gen(function*() {
        const path = yield* socketPath()
        yield* endlessServer(path)
        const bytes = 64 * MiB
        const report = yield* runClient(mode, path, bytes)
        assert.strictEqual(report.outcome, "Success")
        assert.isAtLeast(report.bytes, bytes)
        // A chunk per read, not per packet (a read holds thousands).
        assert.isBelow(report.chunks, bytes / 1000)
        assert.isAtMost(growth(report.memory), slack)
      }), 60_000)
  }
})
