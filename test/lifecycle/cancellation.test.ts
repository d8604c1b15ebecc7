/**
 * A client that goes is a request cancelled: when a client closes its
 * connection before its response has ended, its application is
 * interrupted (or its queued request dropped) and its place is free for
 * the next request. A half-close is not a hang-up: a client that only
 * shuts down its writing side after its request still gets its response.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Metric } from "effect"
import * as net from "node:net"
import * as Client from "../../src/client/Client.ts"
import * as PktLine from "../../src/framing/PktLine.ts"
import * as Server from "../../src/server/Server.ts"
import * as ServerMetrics from "../../src/server/ServerMetrics.ts"
import { bytes, text } from "../support/bytes.ts"
import { killAndWait, spawnScoped } from "../support/child.ts"
import { exchange, waitUntil } from "../support/raw.ts"
import { socketPath } from "../support/tempdir.ts"

const framed = (request: string) => Buffer.from(PktLine.encodeMessageBytes(bytes(request)))

const drops = (path: string, reason: ServerMetrics.DropReason) =>
  Effect.map(Metric.value(Metric.withAttributes(ServerMetrics.dropped, { socket: path, reason })), (s) => s.count)

/** Request payload bytes the server has read in full. */
const bytesIn = (path: string) =>
  Effect.map(Metric.value(Metric.withAttributes(ServerMetrics.bytesIn, { socket: path })), (s) => s.count)

/**
 * Shuts down the client's writing side, and returns once the server has
 * taken note: the end is with the server's socket when the client's
 * shutdown is done, and a round trip through the same server (its read
 * events come from the same poll of the event loop) takes longer than
 * reading it.
 */
const halfClose = (path: string, socket: net.Socket) =>
  Effect.gen(function*() {
    yield* Effect.callback<void>((resume) => {
      socket.end(() => resume(Effect.void))
    })
    assert.strictEqual(text(yield* Client.request(path, "ping")), "pong")
  })

/**
 * A client that sends `request` whole and keeps its socket open, for the
 * life of the scope; `close` hangs up, `halfClose` shuts down its writing
 * side only.
 */
const openClient = (path: string, request: string) =>
  Effect.acquireRelease(
    Effect.callback<net.Socket>((resume) => {
      const socket = net.connect({ path, allowHalfOpen: true }, () => resume(Effect.succeed(socket)))
      socket.on("error", () => {})
      socket.write(framed(request))
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

/**
 * A server whose `hold` requests run until interrupted, telling when they
 * start and when they are interrupted; `ping` is answered at once.
 */
const holdingServer = (path: string, threads: number) =>
  Effect.gen(function*() {
    const started = yield* Deferred.make<void>()
    const interrupted = yield* Deferred.make<number>()
    let calls = 0
    yield* Server.make(path, (request, reply) => {
      calls++
      if (text(request) === "ping") return reply("pong")
      return Effect.andThen(Deferred.succeed(started, undefined), Effect.never).pipe(
        Effect.onInterrupt(() => Deferred.succeed(interrupted, performance.now()))
      )
    }, { threads })
    return { started, interrupted, calls: () => calls }
  })

describe("a client that goes", () => {
  it.live("closing while its application runs interrupts the application and frees its place", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      // One place: the next request is served only once the held one is given back.
      const server = yield* holdingServer(path, 1)
      const client = yield* openClient(path, "hold")
      yield* Deferred.await(server.started)

      const hungUpAt = performance.now()
      client.destroy()
      const interruptedAt = yield* Deferred.await(server.interrupted)

      assert.strictEqual(text(yield* Client.request(path, "ping")), "pong")
      assert.strictEqual(yield* drops(path, "client_gone"), 1)
      // Not a speed test (`npm run bench:lifecycle` measures it): without the
      // watch the application would run for ever and the await above would
      // never return; this only guards against a slow path such as a sweep.
      assert.isBelow(interruptedAt - hungUpAt, 1000)
    }))

  it.live("a client process killed while its request runs: the request is interrupted, its place freed", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const server = yield* holdingServer(path, 1)
      // A client in a process of its own that sends its request and waits
      // for the answer, until it is killed: the kernel closes its socket.
      const client = yield* spawnScoped([
        "-e",
        `const s = require("node:net").connect(process.argv[1], () => s.write(${JSON.stringify(framed("hold").toString())})); s.on("data", () => {})`,
        path
      ])
      yield* Deferred.await(server.started)
      yield* killAndWait(client, "SIGKILL")
      yield* Deferred.await(server.interrupted)
      assert.strictEqual(text(yield* Client.request(path, "ping")), "pong")
      assert.strictEqual(yield* drops(path, "client_gone"), 1)
    }))

  it.live("a client that gives up (its request's timeout) interrupts the request", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const server = yield* holdingServer(path, 1)
      const error = yield* Effect.flip(Client.request(path, "hold", { timeout: "300 millis" }))
      assert.strictEqual(error._tag, "RequestTimeoutError")
      yield* Deferred.await(server.interrupted)
      assert.strictEqual(text(yield* Client.request(path, "ping")), "pong")
    }))

  it.live("closing while its request waits for a place drops the request; its application never runs", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const server = yield* holdingServer(path, 1)
      const holder = yield* openClient(path, "hold")
      yield* Deferred.await(server.started)
      const queued = yield* openClient(path, "hold")
      // Both requests read in full: the second waits in the queue.
      yield* waitUntil(Effect.map(bytesIn(path), (n) => n === 2 * "hold".length))
      queued.destroy()
      yield* waitUntil(Effect.map(drops(path, "client_gone"), (n) => n === 1))

      // The place is given back by the first client's hang-up, and goes to
      // the ping, not to the dropped request.
      holder.destroy()
      yield* Deferred.await(server.interrupted)
      assert.strictEqual(text(yield* Client.request(path, "ping")), "pong")
      assert.strictEqual(server.calls(), 2)
      assert.strictEqual(yield* drops(path, "client_gone"), 2)
    }))

  it.live("a half-close after the request is not a hang-up: the response is written in full", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const gate = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      yield* Server.make(path, (request, reply) =>
        text(request) === "ping" ? reply("pong") : Effect.gen(function*() {
          yield* Deferred.succeed(entered, undefined)
          // The half-close reaches the server while the application waits here.
          yield* Deferred.await(gate)
          yield* reply("still here")
        }), { threads: 2 })
      const client = yield* openClient(path, "hello")
      const received: Array<Buffer> = []
      client.on("data", (chunk: Buffer) => received.push(chunk))
      const closed = Effect.callback<void>((resume) => {
        client.once("close", () => resume(Effect.void))
      })
      yield* Deferred.await(entered)
      yield* halfClose(path, client)
      yield* Deferred.succeed(gate, undefined)
      yield* closed
      assert.strictEqual(Buffer.concat(received).toString(), "000estill here0000")
      assert.strictEqual(yield* drops(path, "client_gone"), 0)
    }))

  it.live("a request sent with a half-close at once (as `nc -N` sends it) is answered", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* Server.make(path, (request, reply) => reply(`got ${text(request)}`))
      const { response, closed } = yield* exchange(path, framed("hello"), { halfClose: true })
      assert.isTrue(closed)
      assert.strictEqual(Buffer.from(response).toString(), "000dgot hello0000")
    }))

  it.live("a half-closed client that then closes its socket is gone too (found by the sweep)", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const server = yield* holdingServer(path, 2)
      const client = yield* openClient(path, "hold")
      yield* Deferred.await(server.started)
      // Taken for a half-close, which it is so far: the application runs on.
      yield* halfClose(path, client)
      assert.isFalse(yield* Deferred.isDone(server.interrupted))
      client.destroy()
      yield* Deferred.await(server.interrupted)
      assert.strictEqual(text(yield* Client.request(path, "ping")), "pong")
      assert.strictEqual(yield* drops(path, "client_gone"), 1)
    }))
})
