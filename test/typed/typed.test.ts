/**
 * Typed protocols over Simple IPC: every kind of command round-trips, the
 * wire stays plain for byte-level clients, errors are typed, and long
 * streams run in bounded memory.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Duration, Effect, Layer, Stream } from "effect"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import * as Client from "../../src/client/Client.ts"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import * as Protocol from "../../src/typed/Protocol.ts"
import * as TypedClient from "../../src/typed/TypedClient.ts"
import * as TypedServer from "../../src/typed/TypedServer.ts"
import { bytes, text } from "../support/bytes.ts"
import { socketPath } from "../support/tempdir.ts"
import { Calculator, DivideByZero, handlers, since, StoreV1, storeV1Handlers, StoreV2, TooFar } from "./fixtures.ts"

/** A calculator server in this scope, and a typed client of it. */
const calculator = (produced?: { count: number }) =>
  Effect.gen(function*() {
    const path = yield* socketPath()
    yield* TypedServer.make(Calculator, path, handlers(produced))
    return { path, client: TypedClient.make(Calculator, Client.make(path)) }
  })

const raw = (path: string, request: string | Uint8Array) => Effect.map(Client.request(path, request), text)

describe("round trips", () => {
  it.live("a unary command returns the typed response", () =>
    Effect.gen(function*() {
      const { client } = yield* calculator()
      assert.strictEqual(yield* client.add({ a: 1, b: 2 }), 3)
      assert.strictEqual(yield* client.divide({ a: 1, b: 4 }), 0.25)
    }))

  it.live("a command without a request; a date in the response comes back a Date", () =>
    Effect.gen(function*() {
      const { client } = yield* calculator()
      const status = yield* client.status()
      assert.strictEqual(status.version, "1.2.3")
      assert.instanceOf(status.since, Date)
      assert.strictEqual(status.since.getTime(), since.getTime())
      assert.deepStrictEqual(status.tags, ["a", "b"])
    }))

  it.live("a declared failure is re-raised on the client as its own class", () =>
    Effect.gen(function*() {
      const { client } = yield* calculator()
      const error = yield* Effect.flip(client.divide({ a: 7, b: 0 }))
      assert.instanceOf(error, DivideByZero)
      assert.strictEqual((error as DivideByZero).dividend, 7)
    }))

  it.live("a streamed command yields its items in order", () =>
    Effect.gen(function*() {
      const { client } = yield* calculator()
      const items = yield* Stream.runCollect(client.count({ to: 5, text: "x" }))
      assert.deepStrictEqual(items, [1, 2, 3, 4, 5].map((n) => ({ n, text: "x" })))
      assert.deepStrictEqual(yield* Stream.runCollect(client.count({ to: 0, text: "" })), [])
    }))

  it.live("a stream that fails with a declared error delivers the items before it, then the typed failure", () =>
    Effect.gen(function*() {
      const { client } = yield* calculator()
      const seen: Array<number> = []
      const error = yield* Effect.flip(Stream.runForEach(client.countUpTo({ to: 10, limit: 3 }), (n) =>
        Effect.sync(() => {
          seen.push(n)
        })))
      assert.deepStrictEqual(seen, [1, 2, 3])
      assert.instanceOf(error, TooFar)
      assert.strictEqual((error as TooFar).limit, 3)
    }))

  it.live("a handler that dies becomes HandlerFailed on the client; the server goes on", () =>
    Effect.gen(function*() {
      const { client } = yield* calculator()
      const error = yield* Effect.flip(client.crash())
      assert.instanceOf(error, Protocol.IpcError)
      assert.strictEqual((error as Protocol.IpcError).reason, "HandlerFailed")
      assert.include(error.message, "the handler crashed")
      assert.strictEqual(yield* client.add({ a: 2, b: 2 }), 4)
    }))

  it.live("a stream that dies delivers the items before it, then HandlerFailed", () =>
    Effect.gen(function*() {
      const { client } = yield* calculator()
      const seen: Array<number> = []
      const error = yield* Effect.flip(Stream.runForEach(client.crashMidStream(), (n) =>
        Effect.sync(() => {
          seen.push(n)
        })))
      assert.deepStrictEqual(seen, [1, 2])
      assert.strictEqual((error as Protocol.IpcError).reason, "HandlerFailed")
      assert.include(error.message, "the stream crashed")
    }))

  it.live("a request its own schema rejects fails on the client with EncodeFailed, and is not sent", () =>
    Effect.gen(function*() {
      let sent = 0
      const counting = TypedClient.make(Calculator, {
        request: () => Effect.sync(() => sent++).pipe(Effect.as(new Uint8Array())),
        requestStream: () => Stream.fromEffectDrain(Effect.sync(() => sent++))
      })
      const error = yield* Effect.flip(Stream.runDrain(counting.count({ to: 1.5, text: "" })))
      assert.strictEqual((error as Protocol.IpcError).reason, "EncodeFailed")
      assert.include(error.message, "could not encode the request of 'count'")
      assert.include(error.message, `at ["to"]`)
      assert.strictEqual(sent, 0)
    }))

  it.live("a failure the command does not declare becomes HandlerFailed, naming the command", () =>
    Effect.gen(function*() {
      const { client } = yield* calculator()
      const error = yield* Effect.flip(client.fumble())
      assert.instanceOf(error, Protocol.IpcError)
      assert.strictEqual((error as Protocol.IpcError).reason, "HandlerFailed")
      assert.include(error.message, "the handler of 'fumble' failed: an error the command does not declare")
    }))

  it.live("a response its own schema rejects is EncodeFailed, naming the command and the issue", () =>
    Effect.gen(function*() {
      const { client } = yield* calculator()
      const error = yield* Effect.flip(client.lie())
      assert.instanceOf(error, Protocol.IpcError)
      assert.strictEqual((error as Protocol.IpcError).reason, "EncodeFailed")
      assert.include(error.message, "'lie'")
      assert.include(error.message, "integer")
    }))

  it.live("a handler can stop its own server", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const server = yield* TypedServer.make(Calculator, path, handlers())
      yield* TypedClient.make(Calculator, Client.make(path)).stop()
      yield* Effect.timeout(server.join, Duration.seconds(5))
      assert.strictEqual(yield* Client.activeState(path), "NotListening")
    }))

  it.live("the client and server as layers", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      class Calc extends Context.Service<Calc, TypedClient.Client<typeof Calculator>>()("test/Calc") {}
      const layers = Layer.merge(
        TypedServer.layer(Calculator, path, handlers()),
        TypedClient.layer(Calc, Calculator, Client.make(path))
      )
      const sum = yield* Effect.provide(Calc.use((calc) => calc.add({ a: 20, b: 22 })), layers)
      assert.strictEqual(sum, 42)
    }))
})

describe("the wire stays plain", () => {
  it.live("a byte-level client sends `<name> <JSON>` and reads JSON; streams are one JSON line per item", () =>
    Effect.gen(function*() {
      const { path } = yield* calculator()
      assert.strictEqual(yield* raw(path, `add {"a":1,"b":2}`), "3")
      assert.strictEqual(yield* raw(path, "status"), `{"version":"1.2.3","since":"2024-01-02T03:04:05.000Z","tags":["a","b"]}`)
      assert.strictEqual(yield* raw(path, `count {"to":3,"text":"t"}`), `{"n":1,"text":"t"}\n{"n":2,"text":"t"}\n{"n":3,"text":"t"}\n`)
      assert.strictEqual(yield* raw(path, `divide {"a":1,"b":0}`), `fail {"_tag":"DivideByZero","dividend":1}`)
      assert.strictEqual(yield* raw(path, `countUpTo {"to":5,"limit":1}`), `1\nfail {"_tag":"TooFar","limit":1}`)
    }))

  it.live("a malformed request gets a structured error reply, readable as JSON", () =>
    Effect.gen(function*() {
      const { path } = yield* calculator()
      const cases: ReadonlyArray<readonly [string | Uint8Array, string, string, string]> = [
        ["nosuch {}", "UnknownCommand", "nosuch", "known commands: add, divide, status, count"],
        ["", "UnknownCommand", "", "known commands"],
        [`add {"a":1,`, "InvalidRequest", "add", "not valid JSON"],
        [`add {"a":"one","b":2}`, "InvalidRequest", "add", `at ["a"]`],
        [`add`, "InvalidRequest", "add", "Expected object"],
        [`count {"to":1.5,"text":""}`, "InvalidRequest", "count", `at ["to"]`],
        [bytes("add \xff\xfe"), "InvalidRequest", "", "not UTF-8"]
      ]
      for (const [request, reason, command, detail] of cases) {
        const response = yield* raw(path, request)
        assert.match(response, /^error \{/, `response to ${String(request)}`)
        const error = JSON.parse(response.slice("error ".length))
        assert.strictEqual(error._tag, "IpcError")
        assert.strictEqual(error.reason, reason, `reason for ${String(request)}`)
        assert.strictEqual(error.command, command)
        assert.include(error.detail, detail)
      }
      // The server is unharmed.
      assert.strictEqual(yield* raw(path, `add {"a":1,"b":1}`), "2")
    }))
})

describe("compatibility between versions", () => {
  const v1Server = Effect.gen(function*() {
    const path = yield* socketPath()
    yield* TypedServer.make(StoreV1, path, storeV1Handlers)
    return TypedClient.make(StoreV2, Client.make(path))
  })

  it.live("a newer client expecting a field an older server does not send gets a typed error naming command and field", () =>
    Effect.gen(function*() {
      const client = yield* v1Server
      const error = yield* Effect.flip(Effect.timeout(client.info(), Duration.seconds(5)))
      assert.instanceOf(error, Protocol.IpcError)
      assert.strictEqual((error as Protocol.IpcError).reason, "InvalidResponse")
      assert.strictEqual((error as Protocol.IpcError).command, "info")
      assert.include(error.message, "could not decode the response to 'info'")
      assert.include(error.message, `at ["size"]`)
    }))

  it.live("the same in a stream: the first item that does not decode ends it with a typed error", () =>
    Effect.gen(function*() {
      const client = yield* v1Server
      const error = yield* Effect.flip(Effect.timeout(Stream.runCollect(client.list()), Duration.seconds(5)))
      assert.instanceOf(error, Protocol.IpcError)
      assert.strictEqual((error as Protocol.IpcError).reason, "InvalidResponse")
      assert.include(error.message, `at ["size"]`)
    }))

  it.live("a command the older server does not know is UnknownCommand, typed", () =>
    Effect.gen(function*() {
      const client = yield* v1Server
      const error = yield* Effect.flip(Effect.timeout(client.compact({ level: 1 }), Duration.seconds(5)))
      assert.instanceOf(error, Protocol.IpcError)
      assert.strictEqual((error as Protocol.IpcError).reason, "UnknownCommand")
      assert.strictEqual((error as Protocol.IpcError).command, "compact")
      assert.include(error.message, "does not know the command 'compact'")
    }))

  it.live("an older client ignores fields a newer server added", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* TypedServer.make(StoreV2, path, {
        info: () => Effect.succeed({ name: "store", size: 3 }),
        list: () => Stream.make({ key: "a", size: 1 }),
        compact: () => Effect.void
      })
      const client = TypedClient.make(StoreV1, Client.make(path))
      assert.deepStrictEqual(yield* client.info(), { name: "store" })
      assert.deepStrictEqual(yield* Stream.runCollect(client.list()), [{ key: "a" }])
    }))

  it.live("a server that is not typed at all gives InvalidResponse, not a hang", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* Server.make(path, TestApplication.handler)
      const client = TypedClient.make(StoreV1, Client.make(path))
      const error = yield* Effect.flip(Effect.timeout(client.info(), Duration.seconds(5)))
      assert.strictEqual((error as Protocol.IpcError).reason, "InvalidResponse")
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
      const produced = { count: 0 }
      const { client } = yield* calculator(produced)
      const total = 100_000
      const text = "x".repeat(1000)
      collectGarbage()
      const heapBefore = process.memoryUsage().heapUsed
      let consumed = 0
      let maxAhead = 0
      let maxHeapGrowth = 0
      yield* Stream.runForEach(client.count({ to: total, text }), (item) =>
        Effect.sync(() => {
          consumed++
          if (item.n !== consumed || item.text.length !== 1000) throw new Error(`item ${consumed} is wrong`)
          maxAhead = Math.max(maxAhead, produced.count - consumed)
          if (consumed % 10_000 === 0) {
            collectGarbage()
            maxHeapGrowth = Math.max(maxHeapGrowth, process.memoryUsage().heapUsed - heapBefore)
          }
        }))
      assert.strictEqual(consumed, total)
      assert.strictEqual(produced.count, total)
      // About 100 MB cross the socket. The server stays within a few chunks
      // of the client (socket buffers and one stream chunk of 4096 items),
      // and the client holds no more than one read's worth of them.
      assert.isBelow(maxAhead, 20_000, `the server ran ${maxAhead} items ahead`)
      assert.isBelow(maxHeapGrowth, 24 * 1024 * 1024, `the heap grew by ${maxHeapGrowth} bytes`)
    }), 120_000)
})
