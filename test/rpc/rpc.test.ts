/**
 * effect/rpc over Simple IPC: a group served with `RpcServer.layer` and
 * called with `RpcClient.make` through this package's protocols, every
 * kind of call round-tripping as with effect/rpc's own socket protocol.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Duration, Effect, Exit, Fiber, Layer, Stream, Tracer } from "effect"
import { RpcClient, RpcClientError, RpcServer } from "effect/rpc"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import * as SimpleIpcRpc from "../../src/rpc/SimpleIpcRpc.ts"
import * as Client from "../../src/client/Client.ts"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { cli, lines } from "../cli/harness.ts"
import { bytes, text } from "../support/bytes.ts"
import * as net from "node:net"
import * as Raw from "../support/raw.ts"
import { socketPath } from "../support/tempdir.ts"
import { recordingTracer } from "../support/tracing.ts"
import {
  AuthenticationLive,
  Calculator,
  client,
  defectOf,
  DivideByZero,
  handlers,
  makeObserved,
  serve,
  since,
  StoreV1,
  storeV1Handlers,
  StoreV2,
  storeV2Handlers,
  Unauthorized
} from "./fixtures.ts"

const raw = (path: string, request: string) => Effect.map(Client.request(path, request), text)

describe("calls", () => {
  it.live("a unary call returns its typed success", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      const calculator = yield* client(path)
      assert.strictEqual(yield* calculator.Add({ a: 1, b: 2 }), 3)
      assert.strictEqual(yield* calculator.Divide({ a: 1, b: 4 }), 0.25)
    }))

  it.live("a call without a payload; a date in the answer comes back a Date", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      const status = yield* (yield* client(path)).Status()
      assert.strictEqual(status.version, "1.2.3")
      assert.instanceOf(status.since, Date)
      assert.strictEqual(status.since.getTime(), since.getTime())
    }))

  it.live("a declared failure reaches the caller as its own class", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      const error = yield* Effect.flip((yield* client(path)).Divide({ a: 7, b: 0 }))
      assert.instanceOf(error, DivideByZero)
      assert.strictEqual((error as DivideByZero).dividend, 7)
    }))

  it.live("a handler that dies is a defect of that call only, and the server goes on", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      const calculator = yield* client(path)
      const [crashed, added] = yield* Effect.all([Effect.exit(calculator.Crash()), calculator.Add({ a: 2, b: 2 })], {
        concurrency: "unbounded"
      })
      assert.isTrue(Exit.isFailure(crashed) && Cause.hasDies(crashed.cause))
      const defect = Exit.isFailure(crashed) ? Cause.squash(crashed.cause) : undefined
      assert.include(String((defect as Error).message), "the handler crashed")
      assert.strictEqual(added, 4)
      assert.strictEqual(yield* calculator.Add({ a: 3, b: 3 }), 6)
    }))

  it.live("a stream yields its items in order, and an empty one none", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      const calculator = yield* client(path)
      assert.deepStrictEqual(yield* Stream.runCollect(calculator.Count({ to: 5 })), [1, 2, 3, 4, 5])
      assert.deepStrictEqual(yield* Stream.runCollect(calculator.Count({ to: 0 })), [])
    }))

  it.live("a stream that fails after some items delivers them, then the typed failure", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      const seen: Array<number> = []
      const error = yield* Effect.flip(
        Stream.runForEach((yield* client(path)).CountThenFail({ to: 3 }), (n) => Effect.sync(() => seen.push(n)))
      )
      assert.deepStrictEqual(seen, [1, 2, 3])
      assert.instanceOf(error, DivideByZero)
    }))

  it.live("a client not told the group reads every response as it arrives: unary calls and streams alike", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      const calculator = yield* client(path, { group: false })
      assert.strictEqual(yield* calculator.Add({ a: 1, b: 2 }), 3)
      assert.instanceOf(yield* Effect.flip(calculator.Divide({ a: 1, b: 0 })), DivideByZero)
      assert.deepStrictEqual(yield* Stream.runCollect(calculator.Count({ to: 3 })), [1, 2, 3])
      assert.strictEqual((yield* Stream.runCollect(Stream.take(calculator.Endless(), 2))).length, 2)
    }))

  it.live("a stream that dies after some items delivers them, then the defect", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      const seen: Array<number> = []
      const exit = yield* Effect.exit(
        Stream.runForEach((yield* client(path)).CrashMidStream(), (n) => Effect.sync(() => seen.push(n)))
      )
      assert.deepStrictEqual(seen, [1, 2])
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
      assert.include(String((Cause.squash((exit as Exit.Failure<void, unknown>).cause) as Error).message), "the stream crashed")
    }))

  it.live("a failure the RPC does not declare, or an answer its schema refuses, is a defect naming the RPC; the server goes on", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      const calculator = yield* client(path)
      const fumbled = defectOf(yield* Effect.exit(calculator.Fumble()))
      assert.include(fumbled, `Failed to encode response for RPC "Fumble"`)
      const lied = defectOf(yield* Effect.exit(calculator.Lie()))
      assert.include(lied, `Failed to encode response for RPC "Lie"`)
      assert.include(lied, "int")
      assert.strictEqual(yield* calculator.Add({ a: 2, b: 2 }), 4)
    }))

  it.live("a payload its own schema refuses is a defect on the client, and nothing is sent", () =>
    Effect.gen(function*() {
      let sent = 0
      const counting: Client.IpcClient["Service"] = {
        path: "nowhere",
        activeState: Effect.succeed("NotListening"),
        request: () => Effect.sync(() => sent++).pipe(Effect.as(new Uint8Array())),
        requestStream: () => Stream.fromEffectDrain(Effect.sync(() => sent++)),
        requestForEach: () => Effect.sync(() => void sent++)
      }
      const protocol = yield* SimpleIpcRpc.makeProtocolClient(counting, { group: Calculator })
      const calculator = yield* RpcClient.make(Calculator).pipe(Effect.provideService(RpcClient.Protocol, protocol))
      const refused = defectOf(yield* Effect.exit(calculator.Add({ a: "one" as unknown as number, b: 2 })))
      assert.strictEqual(refused, "Schema validation failed")
      assert.strictEqual(sent, 0)
    }))

  it.live("a handler can stop its own server", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const { protocol, server } = yield* SimpleIpcRpc.makeProtocolServer(path)
      yield* RpcServer.make(Calculator).pipe(
        Effect.provideService(RpcServer.Protocol, protocol),
        Effect.provide([handlers(yield* makeObserved), AuthenticationLive]),
        Effect.provideService(Server.IpcServer, server),
        Effect.forkScoped
      )
      yield* (yield* client(path)).Stop()
      yield* Effect.timeout(server.join, Duration.seconds(5))
      assert.strictEqual(yield* Client.activeState(path), "NotListening")
    }))

  it.live("concurrent calls from one client each get their own answer", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      const calculator = yield* client(path)
      const sums = yield* Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) => calculator.Add({ a: i, b: 1 }), {
        concurrency: 8
      })
      assert.deepStrictEqual(sums, Array.from({ length: 40 }, (_, i) => i + 1))
    }))

  it.live("layerProtocol calls through whatever IpcClient service is provided", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      // Every round trip goes through the service given, here one that
      // counts them: the protocol makes no connection of its own.
      const plain = Client.make(path)
      let trips = 0
      const counting: Client.IpcClient["Service"] = {
        ...plain,
        request: (request) => Effect.suspend(() => {
          trips++
          return plain.request(request)
        }),
        requestForEach: (request, f) => Effect.suspend(() => {
          trips++
          return plain.requestForEach(request, f)
        })
      }
      const calculator = yield* RpcClient.make(Calculator).pipe(
        Effect.provide(SimpleIpcRpc.layerProtocol({ group: Calculator }).pipe(
          Layer.provide(Layer.succeed(Client.IpcClient, counting))
        ))
      )
      assert.strictEqual(yield* calculator.Add({ a: 2, b: 3 }), 5)
      assert.deepStrictEqual(Array.from(yield* Stream.runCollect(calculator.Count({ to: 3 }))), [1, 2, 3])
      assert.strictEqual(trips, 2)
    }))
})

describe("middleware and headers", () => {
  it.live("a server middleware reads a header the caller set", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      const calculator = yield* client(path)
      const user = yield* RpcClient.withHeaders(calculator.WhoAmI(), { "x-user": "alice" })
      assert.strictEqual(user, "alice")
    }))

  it.live("the middleware's failure reaches the caller typed", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      const error = yield* Effect.flip((yield* client(path)).WhoAmI())
      assert.instanceOf(error, Unauthorized)
      assert.strictEqual((error as Unauthorized).detail, "no x-user header")
    }))
})

describe("failures of the transport", () => {
  it.live("no server: an RpcClientError whose reason keeps the connect error as its cause", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      const calculator = yield* client(`${path}.nobody`)
      const error = yield* Effect.flip(calculator.Add({ a: 1, b: 1 }))
      assert.instanceOf(error, RpcClientError.RpcClientError)
      const reason = (error as RpcClientError.RpcClientError).reason
      assert.strictEqual(reason._tag, "SocketOpenError")
      assert.instanceOf((reason as { cause: unknown }).cause, Client.ConnectError)
      assert.strictEqual(((reason as { cause: Client.ConnectError }).cause).path, `${path}.nobody`)
      // The message says what the connect error says: which path, and why.
      assert.include(error.message, `${path}.nobody`)
      assert.include(error.message, (reason as { cause: Client.ConnectError }).cause.message)
    }))
})

describe("interruption", () => {
  it.live("interrupting a stream closes its connection and interrupts the handler on the server", () =>
    Effect.gen(function*() {
      const { observed, path } = yield* serve()
      const calculator = yield* client(path)
      // The client reads three items, then stops: its connection closes.
      const items = yield* Stream.runCollect(Stream.take(calculator.Endless(), 3))
      assert.strictEqual(items.length, 3)
      // The handler, blocked on a full socket or writing its next item,
      // finds the connection closed and is interrupted.
      yield* Deferred.await(observed.interrupted)
      // The server is free and serves the next call.
      assert.strictEqual(yield* calculator.Add({ a: 1, b: 1 }), 2)
    }))

  it.live("a stream read slowly is produced no faster than the socket takes it", () =>
    Effect.gen(function*() {
      const { observed, path } = yield* serve()
      const calculator = yield* client(path)
      // One item read, then the reader waits: the handler may fill the
      // client's buffer and the socket's, but not run on unbounded.
      const fiber = yield* Stream.runForEach(calculator.Endless(), () => Effect.never).pipe(Effect.forkChild)
      yield* Deferred.await(observed.started)
      // Wait until the production stops growing: the socket is full.
      let last = -1
      while (observed.produced !== last) {
        last = observed.produced
        yield* Effect.sleep("200 millis")
      }
      // 1000-byte items: a few MiB of socket buffers hold a few thousand.
      assert.isBelow(observed.produced, 20_000)
      yield* Fiber.interrupt(fiber)
      yield* Deferred.await(observed.interrupted)
    }))

  it.live("interrupting a unary call closes its connection and interrupts the handler on the server", () =>
    Effect.gen(function*() {
      const { observed, path } = yield* serve()
      const calculator = yield* client(path)
      const fiber = yield* Effect.forkChild(calculator.Hang())
      yield* Deferred.await(observed.started)
      yield* Fiber.interrupt(fiber)
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause))
      // The server sees its client gone (nothing was written to tell it)
      // and interrupts the handler, which never ends by itself.
      yield* Deferred.await(observed.interrupted)
      assert.strictEqual(yield* calculator.Add({ a: 2, b: 2 }), 4)
    }))
})

describe("the wire, from a shell", () => {
  it.live("`<tag> <JSON>` is a call; its answer is the success's JSON", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      assert.strictEqual(yield* raw(path, `Add {"a":1,"b":2}`), "3")
      assert.strictEqual(yield* raw(path, `Status`), `{"version":"1.2.3","since":"2024-01-02T03:04:05.000Z"}`)
      assert.strictEqual(yield* raw(path, `Count {"to":3}`), "1\n2\n3\n")
      assert.strictEqual(yield* raw(path, `Divide {"a":1,"b":0}`), `fail {"_tag":"DivideByZero","dividend":1}`)
      assert.strictEqual(yield* raw(path, `CountThenFail {"to":2}`), `1\n2\nfail {"_tag":"DivideByZero","dividend":2}`)
      assert.strictEqual(
        yield* raw(path, `@headers [["x-user","bob"]]\nWhoAmI`),
        `"bob"`
      )
    }))

  it.live("`simple-ipc send --token='<tag> <JSON>'` makes a call and prints its answer", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      const send = (token: string) => Effect.map(cli(["send", `--name=${path}`, `--token=${token}`]), lines)
      assert.deepStrictEqual(yield* send(`Add {"a":1,"b":2}`), ["3"])
      assert.deepStrictEqual(yield* send(`Divide {"a":4,"b":0}`), [`fail {"_tag":"DivideByZero","dividend":4}`])
      assert.deepStrictEqual(yield* send(`Count {"to":3}`), ["1", "2", "3", ""])
    }))

  it.live("what the server cannot serve is answered with a `die` line", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      assert.strictEqual(yield* raw(path, `Nope {}`), `die "Unknown request tag: Nope"`)
      assert.match(yield* raw(path, `Add {"a":1`), /^die "the payload of 'Add' is not valid JSON/)
      const refused = yield* raw(path, `Add {"a":"x","b":2}`)
      assert.match(refused, /^die "Expected /)
      assert.include(refused, `at [\\"a\\"]`)
      assert.match(yield* raw(path, `Crash`), /^die \{"name":"Error","message":"the handler crashed"/)
      assert.strictEqual(yield* raw(path, ``), `die "Unknown request tag: "`)
      assert.strictEqual(
        text(yield* Client.request(path, bytes("Add \xff\xfe"))),
        `die "the request is not UTF-8 text"`
      )
      // The server is unharmed.
      assert.strictEqual(yield* raw(path, `Add {"a":1,"b":1}`), "2")
    }))
})

describe("tracing", () => {
  it.live("the server's span for a call is a child of the caller's span", () => {
    const spans: Array<Tracer.Span> = []
    return Effect.gen(function*() {
      const { path } = yield* serve()
      const calculator = yield* client(path)
      yield* Effect.withSpan(calculator.Add({ a: 1, b: 2 }), "caller")
      const caller = spans.find((span) => span.name === "caller")!
      const clientSpan = spans.find((span) => span.name === "Add" && span.kind === "client")!
      const serverSpan = spans.find((span) => span.name === "Add" && span.kind === "server")!
      assert.isDefined(clientSpan)
      assert.isDefined(serverSpan)
      assert.strictEqual(clientSpan.traceId, caller.traceId)
      assert.strictEqual(serverSpan.traceId, caller.traceId)
      assert.strictEqual(serverSpan.parent._tag === "Some" ? serverSpan.parent.value.spanId : undefined, clientSpan.spanId)
    }).pipe(Effect.withTracer(recordingTracer(spans)))
  })
})

/**
 * A server at `path` that records each request's bytes, up to its flush,
 * and answers it with `response`.
 */
const recordingPeer = (path: string, response: string, requests: Array<string>) =>
  Effect.acquireRelease(
    Effect.callback<net.Server>((resume) => {
      const server = net.createServer((socket) => {
        let received = ""
        socket.on("error", () => {})
        socket.on("data", (chunk) => {
          received += chunk.toString("latin1")
          if (!received.endsWith("0000")) return
          requests.push(received)
          socket.end(bytes(response))
        })
      })
      server.listen(path, () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
  )

describe("the wire's bytes (stable: changing them breaks deployed clients and scripts)", () => {
  it.live("the server answers fixed request bytes with fixed response bytes", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      const answer = (request: string) => Effect.map(Raw.exchange(path, bytes(request)), (exchange) => text(exchange.response))
      assert.strictEqual(yield* answer(`0015Add {"a":1,"b":2}0000`), "000530000")
      assert.strictEqual(yield* answer(`000aStatus0000`), `003a{"version":"1.2.3","since":"2024-01-02T03:04:05.000Z"}0000`)
      assert.strictEqual(yield* answer(`0018Divide {"a":1,"b":0}0000`), `002dfail {"_tag":"DivideByZero","dividend":1}0000`)
      // One reply packet per chunk of the handler's stream.
      assert.strictEqual(yield* answer(`0012Count {"to":2}0000`), "00081\n2\n0000")
      assert.strictEqual(
        yield* answer(`0038@headers [["x-user","bob"]]\n@span 0af7 b7ad 1\nWhoAmI0000`),
        `0009"bob"0000`
      )
    }))

  it.live("the client sends fixed request bytes and reads fixed response bytes", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const requests: Array<string> = []
      yield* recordingPeer(path, `002dfail {"_tag":"DivideByZero","dividend":5}0000`, requests)
      const protocol = yield* SimpleIpcRpc.makeProtocolClient(Client.make(path))
      const calculator = yield* RpcClient.make(Calculator, { disableTracing: true }).pipe(
        Effect.provideService(RpcClient.Protocol, protocol)
      )
      const error = yield* Effect.flip(RpcClient.withHeaders(calculator.Divide({ a: 5, b: 0 }), { "x-user": "bob" }))
      assert.deepStrictEqual(requests, [`0034@headers [["x-user","bob"]]\nDivide {"a":5,"b":0}0000`])
      assert.instanceOf(error, DivideByZero)
      assert.strictEqual((error as DivideByZero).dividend, 5)
    }))
})

/** A store served with `handlers` (of `StoreV1` or `StoreV2`) at a fresh socket; its path. */
const storeServer = <R>(group: typeof StoreV1 | typeof StoreV2, handlers: Layer.Layer<R>) =>
  Effect.gen(function*() {
    const path = yield* socketPath()
    yield* Layer.build(
      RpcServer.layer(group as typeof StoreV1).pipe(
        Layer.provide(handlers as unknown as typeof storeV1Handlers),
        Layer.provide(SimpleIpcRpc.layerProtocolServer(path))
      )
    )
    return path
  })

const storeClientV1 = (path: string) =>
  RpcClient.make(StoreV1).pipe(Effect.provide(SimpleIpcRpc.layerProtocolClient(path, { group: StoreV1 })))

const storeClientV2 = (path: string) =>
  RpcClient.make(StoreV2).pipe(Effect.provide(SimpleIpcRpc.layerProtocolClient(path, { group: StoreV2 })))

describe("compatibility between versions", () => {
  const olderServer = storeServer(StoreV1, storeV1Handlers)

  it.live("a newer client expecting a field an older server does not send: a defect naming the field", () =>
    Effect.gen(function*() {
      const store = yield* storeClientV2(yield* olderServer)
      const missing = defectOf(yield* Effect.exit(Effect.timeout(store.Info(), Duration.seconds(5))))
      assert.include(missing, `["size"]`)
    }))

  it.live("the same in a stream: the first item that does not decode ends it", () =>
    Effect.gen(function*() {
      const store = yield* storeClientV2(yield* olderServer)
      const missing = defectOf(yield* Effect.exit(Effect.timeout(Stream.runCollect(store.List()), Duration.seconds(5))))
      assert.include(missing, `["size"]`)
    }))

  it.live("an RPC the older server does not know is a defect naming it", () =>
    Effect.gen(function*() {
      const store = yield* storeClientV2(yield* olderServer)
      const unknown = defectOf(yield* Effect.exit(Effect.timeout(store.Compact({ level: 1 }), Duration.seconds(5))))
      assert.strictEqual(unknown, "Unknown request tag: Compact")
    }))

  it.live("an older client ignores fields a newer server added", () =>
    Effect.gen(function*() {
      const store = yield* storeClientV1(yield* storeServer(StoreV2, storeV2Handlers))
      assert.deepStrictEqual(yield* store.Info(), { name: "store" })
      assert.deepStrictEqual(yield* Stream.runCollect(store.List()), [{ key: "a" }])
    }))

  it.live("a server that is not an RPC server at all: an RpcClientError saying why, not a hang", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* Server.make(path, TestApplication.handler)
      const store = yield* storeClientV1(path)
      const error = yield* Effect.flip(Effect.timeout(store.Info(), Duration.seconds(5)))
      assert.instanceOf(error, RpcClientError.RpcClientError)
      assert.include(error.message, "could not read the response to 'Info'")
      assert.include(error.message, "not valid JSON")
    }))
})

/** A full garbage collection, so that heap samples count only what is live. */
const collectGarbage: () => void = (() => {
  v8.setFlagsFromString("--expose-gc")
  return vm.runInNewContext("gc")
})()

describe("streams in bounded memory", () => {
  it.live("100 000 items of 1 KB: produced no faster than consumed, and the heap stays flat", () =>
    Effect.gen(function*() {
      const { observed, path } = yield* serve()
      const calculator = yield* client(path)
      const total = 100_000
      const text = "x".repeat(1000)
      collectGarbage()
      const heapBefore = process.memoryUsage().heapUsed
      let consumed = 0
      let maxAhead = 0
      let maxHeapGrowth = 0
      yield* Stream.runForEach(calculator.Lines({ to: total, text }), (item) =>
        Effect.sync(() => {
          consumed++
          if (item.n !== consumed || item.text.length !== 1000) throw new Error(`item ${consumed} is wrong`)
          maxAhead = Math.max(maxAhead, observed.produced - consumed)
          if (consumed % 10_000 === 0) {
            collectGarbage()
            maxHeapGrowth = Math.max(maxHeapGrowth, process.memoryUsage().heapUsed - heapBefore)
          }
        }))
      assert.strictEqual(consumed, total)
      assert.strictEqual(observed.produced, total)
      // About 100 MB cross the socket. The server stays within a few chunks
      // of the client (socket buffers and one stream chunk of 4096 items),
      // and the client holds no more than its buffer of chunks.
      assert.isBelow(maxAhead, 20_000, `the server ran ${maxAhead} items ahead`)
      assert.isBelow(maxHeapGrowth, 24 * 1024 * 1024, `the heap grew by ${maxHeapGrowth} bytes`)
    }), 120_000)
})
