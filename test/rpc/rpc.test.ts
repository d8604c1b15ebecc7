/**
 * effect/rpc over Simple IPC: a group served with `RpcServer.layer` and
 * called with `RpcClient.make` through this package's protocols, every
 * kind of call round-tripping as with effect/rpc's own socket protocol.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Stream, Tracer } from "effect"
import { RpcClient, RpcClientError } from "effect/rpc"
import * as SimpleIpcRpc from "../../src/rpc/SimpleIpcRpc.ts"
import * as Client from "../../src/client/Client.ts"
import { cli, lines } from "../cli/harness.ts"
import { bytes, text } from "../support/bytes.ts"
import * as net from "node:net"
import * as Raw from "../support/raw.ts"
import { socketPath } from "../support/tempdir.ts"
import { recordingTracer } from "../support/tracing.ts"
import { Calculator, client, DivideByZero, serve, since, Unauthorized } from "./fixtures.ts"

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

  it.live("a stream yields its items in order", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      const items = yield* Stream.runCollect((yield* client(path)).Count({ to: 5 }))
      assert.deepStrictEqual(items, [1, 2, 3, 4, 5])
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

  it.live("concurrent calls from one client each get their own answer", () =>
    Effect.gen(function*() {
      const { path } = yield* serve()
      const calculator = yield* client(path)
      const sums = yield* Effect.forEach(Array.from({ length: 40 }, (_, i) => i), (i) => calculator.Add({ a: i, b: 1 }), {
        concurrency: 8
      })
      assert.deepStrictEqual(sums, Array.from({ length: 40 }, (_, i) => i + 1))
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
