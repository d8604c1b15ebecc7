/**
 * Every limit and timeout: exceeded, it has its documented outcome, and a
 * normal request alongside still succeeds. Run again under a tracer by
 * limits.traced.test.ts.
 */
import { assert, describe } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Metric, Stream } from "effect"
import * as net from "node:net"
import * as Client from "../../src/client/Client.ts"
import * as PktLine from "../../src/framing/PktLine.ts"
import * as Server from "../../src/server/Server.ts"
import * as ServerMetrics from "../../src/server/ServerMetrics.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { bytes, text } from "../support/bytes.ts"
import { killAndWait, startDaemon } from "../support/child.ts"
import { exchange, openFds, waitUntil } from "../support/raw.ts"
import { socketPath } from "../support/tempdir.ts"
import { it } from "../support/tracing.ts"

const ping = (path: string) => Effect.map(Client.request(path, "ping"), text)

/** A handler that answers `ping`, counts its calls, and holds `hold` requests until released. */
const holdingHandler = Effect.gen(function*() {
  const entered = yield* Deferred.make<void>()
  const release = yield* Deferred.make<void>()
  const calls: Array<string> = []
  const handler: Server.Handler<never> = (request, reply) => {
    const command = text(request)
    calls.push(command.slice(0, 20))
    if (command === "hold") {
      return Effect.andThen(Deferred.succeed(entered, undefined), Effect.andThen(Deferred.await(release), Effect.orDie(reply("held"))))
    }
    if (command === "hang") return Effect.never
    return Effect.orDie(reply("pong"))
  }
  return { handler, entered, release, calls }
})

/** Opens a raw connection and sends `data`, keeping the connection open. */
const openRaw = (path: string, data: Uint8Array) =>
  Effect.acquireRelease(
    Effect.callback<net.Socket, Error>((resume) => {
      const socket = net.connect({ path, allowHalfOpen: true })
      socket.on("error", () => {})
      socket.on("connect", () => {
        socket.write(data)
        resume(Effect.succeed(socket))
      })
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

const closed = (socket: net.Socket) =>
  Effect.callback<void>((resume) => {
    if (socket.closed || socket.readableEnded) return resume(Effect.void)
    socket.once("close", () => resume(Effect.void))
    socket.once("end", () => resume(Effect.void))
    socket.resume()
  })

const droppedCount = (path: string, reason: ServerMetrics.DropReason) =>
  Effect.map(Metric.value(Metric.withAttributes(ServerMetrics.dropped, { socket: path, reason })), (s) => s.count)

describe("server limits", () => {
  it.live("a request over maxRequestBytes is dropped without calling the handler; others are served", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const { handler, calls } = yield* holdingHandler
      yield* Server.make(path, handler, { maxRequestBytes: 1000 })
      const tooLarge = yield* Effect.forkChild(Effect.exit(Client.request(path, "x".repeat(5000))))
      assert.strictEqual(yield* ping(path), "pong")
      const exit = yield* Fiber.join(tooLarge)
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(calls, ["ping"])
      // Exactly at the limit is still fine.
      assert.strictEqual(text(yield* Client.request(path, "y".repeat(1000))), "pong")
      assert.strictEqual(yield* droppedCount(path, "too_large"), 1)
    }))

  it.live("a client that stalls mid-request holds no worker, and is dropped after requestIdleTimeout", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const { handler, calls } = yield* holdingHandler
      yield* Server.make(path, handler, { threads: 1, requestIdleTimeout: Duration.millis(200) })
      // Half a request: a header promising 8 bytes, then 2 of them.
      const staller = yield* openRaw(path, bytes("0008pi"))
      // Reading a request takes no worker: the one worker answers at once,
      // while the staller is still connected.
      assert.strictEqual(yield* ping(path), "pong")
      assert.isFalse(staller.closed)
      yield* closed(staller)
      assert.deepStrictEqual(calls, ["ping"])
      assert.strictEqual(yield* droppedCount(path, "idle_timeout"), 1)
    }))

  it.live("a client that keeps trickling its request is dropped at requestTimeout", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const { handler, calls } = yield* holdingHandler
      yield* Server.make(path, handler, { requestTimeout: Duration.millis(300), requestIdleTimeout: Duration.seconds(30) })
      // A header promising the largest packet, then a byte of it every 20
      // ms: never idle, never done.
      const trickler = yield* openRaw(path, bytes("fff0"))
      const dripping = setInterval(() => trickler.write("x"), 20)
      yield* Effect.addFinalizer(() => Effect.sync(() => clearInterval(dripping)))
      yield* closed(trickler)
      assert.deepStrictEqual(calls, [])
      assert.strictEqual(yield* droppedCount(path, "request_timeout"), 1)
      assert.strictEqual(yield* ping(path), "pong")
    }))

  it.live("a complete request that waits longer than queueTimeout for a place is dropped", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const { handler, entered, release, calls } = yield* holdingHandler
      yield* Server.make(path, handler, { threads: 1, queueTimeout: Duration.millis(200) })
      const holder = yield* Effect.forkChild(Client.request(path, "hold"))
      yield* Deferred.await(entered)
      const waited = yield* Effect.flip(Client.request(path, "ping"))
      assert.include(["PktLineError", "TransportError"], waited._tag)
      assert.strictEqual(yield* droppedCount(path, "queue_timeout"), 1)
      yield* Deferred.succeed(release, undefined)
      assert.strictEqual(text(yield* Fiber.join(holder)), "held")
      assert.deepStrictEqual(calls, ["hold"])
    }))

  it.live("a client that reads none of its response is dropped after responseIdleTimeout, freeing the place", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const handler: Server.Handler<never> = (request, reply) =>
        // More than the server keeps for a slow reader: the application waits on the client.
        text(request) === "flood" ? Effect.orDie(reply(new Uint8Array(8 * 1024 * 1024))) : Effect.orDie(reply("pong"))
      yield* Server.make(path, handler, { threads: 1, responseIdleTimeout: Duration.millis(300) })
      const reader = yield* openRaw(path, bytes("0009flood0000"))
      reader.pause()
      yield* waitUntil(Effect.map(droppedCount(path, "response_stalled"), (n) => n === 1))
      assert.strictEqual(yield* ping(path), "pong")
    }))

  it.live("a handler past handlerTimeout ends its connection without a flush; others are served", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const { handler } = yield* holdingHandler
      yield* Server.make(path, handler, { handlerTimeout: Duration.millis(150) })
      const hung = yield* Effect.forkChild(Effect.flip(Client.request(path, "hang")))
      assert.strictEqual(yield* ping(path), "pong")
      const error = yield* Fiber.join(hung)
      assert.strictEqual(error._tag, "PktLineError")
      assert.strictEqual((error as PktLine.PktLineError).reason, "UnexpectedEnd")
      assert.strictEqual(yield* droppedCount(path, "handler_timeout"), 1)
    }))

  it.live("connections beyond maxConnections are closed at once; the server goes on", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const { handler, entered, release } = yield* holdingHandler
      yield* Server.make(path, handler, { threads: 2, maxConnections: 1 })
      const holder = yield* Effect.forkChild(Client.request(path, "hold"))
      yield* Deferred.await(entered)
      const refused = yield* Effect.flip(Client.request(path, "ping"))
      assert.include(["PktLineError", "TransportError"], refused._tag)
      yield* Deferred.succeed(release, undefined)
      assert.strictEqual(text(yield* Fiber.join(holder)), "held")
      yield* waitUntil(Effect.map(Effect.exit(ping(path)), Exit.isSuccess))
    }))

  it.live("counters record accepted, served and dropped connections and bytes", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* Server.make(path, TestApplication.handler)
      const series = (metric: Metric.Counter<number>) =>
        Effect.map(Metric.value(Metric.withAttributes(metric, { socket: path })), (s) => s.count)
      yield* ping(path)
      yield* ping(path)
      yield* Client.activeState(path)
      yield* exchange(path, bytes("zzzz"))
      yield* waitUntil(Effect.map(droppedCount(path, "malformed"), (n) => n === 1))
      assert.strictEqual(yield* series(ServerMetrics.served), 2)
      assert.strictEqual(yield* series(ServerMetrics.accepted), 4)
      assert.strictEqual(yield* series(ServerMetrics.bytesIn), 8)
      assert.strictEqual(yield* series(ServerMetrics.bytesOut), 8)
      yield* waitUntil(Effect.map(droppedCount(path, "probe"), (n) => n === 1))
    }))
})

describe("client limits", () => {
  it.live("a collected response over maxResponseBytes fails typed; streaming has no limit", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* Server.make(path, TestApplication.handler)
      const error = yield* Effect.flip(Client.request(path, "big", { maxResponseBytes: 1000 }))
      assert.strictEqual(error._tag, "PktLineError")
      assert.strictEqual((error as PktLine.PktLineError).reason, "MessageTooLarge")
      const streamed = yield* Stream.runFold(Client.requestStream(path, "big"), () => 0, (n, c) => n + c.length)
      assert.strictEqual(streamed, 810000)
      assert.strictEqual(yield* ping(path), "pong")
    }))

  it.live("a request that gets no complete answer within its timeout fails with RequestTimeoutError", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const { handler } = yield* holdingHandler
      // The hung handler never ends: let the stop at the end of the test cut it short.
      yield* Server.make(path, handler, { gracePeriod: Duration.millis(100) })
      const started = Date.now()
      const error = yield* Effect.flip(Client.request(path, "hang", { timeout: Duration.millis(200) }))
      assert.strictEqual(error._tag, "RequestTimeoutError")
      assert.isBelow(Date.now() - started, 2000)
      const streamError = yield* Effect.flip(
        Stream.runDrain(Client.requestStream(path, "hang", { timeout: Duration.millis(200) }))
      )
      assert.strictEqual(streamError._tag, "RequestTimeoutError")
      const forEachError = yield* Effect.flip(
        Client.requestForEach(path, "hang", () => Effect.void, { timeout: Duration.millis(200) })
      )
      assert.strictEqual(forEachError._tag, "RequestTimeoutError")
      assert.strictEqual(yield* ping(path), "pong")
    }))
})

describe("interrupting a client", () => {
  it.live("a request waiting for a busy server is cut short by its timeout, and leaves no socket behind", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      // A socket file nobody accepts on (its server was killed): every
      // attempt is refused, and waitIfBusy keeps retrying for up to a second.
      const daemon = yield* startDaemon(path)
      yield* killAndWait(daemon, "SIGKILL")
      const fdsBefore = openFds()
      const started = Date.now()
      const error = yield* Effect.flip(Client.request(path, "ping", { waitIfBusy: true, timeout: Duration.millis(150) }))
      assert.strictEqual(error._tag, "RequestTimeoutError")
      assert.isBelow(Date.now() - started, 700)
      yield* waitUntil(Effect.sync(() => openFds() <= fdsBefore))
    }))
})
