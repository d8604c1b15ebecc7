/**
 * The plain client: reading a response with pieces lent from one reused
 * read buffer (`Client.requestForEach`), where nothing handed out may
 * change under its holder; commands on connections the caller holds; the
 * client as a service.
 */
import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Layer, Stream } from "effect"
import * as fs from "node:fs"
import * as Client from "../../src/client/Client.ts"
import * as Connection from "../../src/transport/Connection.ts"
import * as PktLine from "../../src/framing/PktLine.ts"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { text } from "../support/bytes.ts"
import { baseline, peer } from "../support/raw.ts"
import { socketPath } from "../support/tempdir.ts"

/** One turn of the event loop, I/O included: time for more reads to land. */
const ioTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

class Enough extends Data.TaggedError("Enough")<{ readonly pieces: number }> {}

/**
 * A server that answers every request with `response` written in pieces
 * of `sizes` bytes (cycled), one per event-loop turn, so that headers and
 * payloads are split across the client's reads.
 */
const tricklingServer = (path: string, response: Uint8Array, sizes: ReadonlyArray<number>) =>
  peer(path, (socket) => {
    let at = 0
    let i = 0
    const next = () => {
      if (at >= response.length) return socket.end()
      const n = sizes[i++ % sizes.length]!
      socket.write(response.subarray(at, at + n), () => setImmediate(next))
      at += n
    }
    next()
  })

describe("Client.requestForEach", () => {
  it.live("hands over every piece of a large response, each a view of one buffer and intact until its effect completes", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* Server.make(path, TestApplication.handler)
      const whole = yield* Client.request(path, "big")
      const copies: Array<Uint8Array> = []
      const buffers = new Set<ArrayBufferLike>()
      yield* Client.requestForEach(path, "big", (piece) =>
        Effect.gen(function*() {
          const copy = piece.slice()
          buffers.add(piece.buffer)
          // The server keeps writing meanwhile: were the socket read again
          // before this effect completes, the lent piece would change.
          yield* ioTurn
          yield* ioTurn
          assert.deepStrictEqual(Buffer.from(piece), Buffer.from(copy))
          copies.push(copy)
        }))
      assert.deepStrictEqual(Buffer.from(PktLine.concat(copies)), Buffer.from(whole))
      assert.strictEqual(whole.length, 810000)
      // Nothing allocated per read: every piece lies in the same buffer.
      assert.strictEqual(buffers.size, 1)
    }))

  it.live("reassembles a response whose headers and payloads are split across reads", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const payload = new Uint8Array(200_000).map((_, i) => (i * 7) % 251)
      const encoded = PktLine.encodeMessageBytes(payload)
      yield* tricklingServer(path, encoded, [1, 3, 2, 70_001, 5, 4096])
      const copies: Array<Uint8Array> = []
      yield* Client.requestForEach(path, "ping", (piece) => Effect.sync(() => copies.push(piece.slice())))
      assert.deepStrictEqual(Buffer.from(PktLine.concat(copies)), Buffer.from(payload))
    }))

  it.live("a failing callback ends the request with its error and closes the connection; the server serves on", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* Server.make(path, TestApplication.handler)
      assert.strictEqual(text(yield* Client.request(path, "ping")), "pong")
      const settled = baseline()
      let seen = 0
      const error = yield* Effect.flip(
        Client.requestForEach(path, "big", () => ++seen === 3 ? Effect.fail(new Enough({ pieces: seen })) : Effect.void)
      )
      assert.strictEqual(error._tag, "Enough")
      assert.strictEqual(seen, 3)
      yield* settled
      assert.strictEqual(text(yield* Client.request(path, "ping")), "pong")
    }))

  it.live("is offered by the IpcClient service", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* Server.make(path, TestApplication.handler)
      const client = Client.make(path)
      let length = 0
      yield* client.requestForEach("chunk", (piece) => Effect.sync(() => void (length += piece.length)))
      assert.strictEqual(length, (yield* client.request("chunk")).length)
      assert.isAbove(length, 0)
    }))
})

describe("connections the caller holds", () => {
  it.live("several commands can be sent on connections the caller holds (connect, then sendCommand)", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* Server.make(path, TestApplication.handler, { threads: 8 })
      const collected = yield* Effect.scoped(
        Effect.flatMap(Client.connect(path), (connection) => Client.sendCommand(connection, "ping"))
      )
      assert.strictEqual(text(collected), "pong")
      const streamed = yield* Effect.scoped(
        Effect.flatMap(Client.connect(path), (connection) =>
          Stream.runCollect(Client.sendCommandStream(connection, "chunk")))
      )
      assert.strictEqual(streamed.map(text).join("").split("\n").filter(Boolean).length, 10000)
    }))
})

describe("connection failures", () => {
  it.live("say what Git would answer as the reason, with the errno, and keep the socket's error as the cause", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const missing = yield* Effect.flip(Client.request(path, "ping"))
      assert.instanceOf(missing, Client.ConnectError)
      const error = missing as Client.ConnectError
      assert.strictEqual(error.reason, "PathNotFound")
      assert.strictEqual(error.errno, "ENOENT")
      assert.strictEqual(error.message, `path not found '${path}'`)
      assert.instanceOf(error.cause, Connection.TransportError)
      assert.strictEqual((error.cause as Connection.TransportError).errno, "ENOENT")
    }))

  it.live("waited out, are NotListening, as Git answers, with the last attempt's failure as the cause", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const error = yield* Effect.flip(
        Effect.scoped(Client.connect(path, { waitIfNotFound: true, retryInterval: "10 millis", retryFor: "50 millis" }))
      )
      assert.strictEqual(error.reason, "NotListening")
      assert.instanceOf(error.cause, Client.ConnectError)
      assert.strictEqual((error.cause as Client.ConnectError).reason, "PathNotFound")
    }))
})

describe("layers", () => {
  it.live("a daemon as a Layer and a client as a service", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const program = Effect.gen(function*() {
        const client = yield* Client.IpcClient
        assert.strictEqual(yield* client.activeState, "Listening")
        const response = yield* client.request("ping")
        const server = yield* Server.IpcServer
        yield* server.stop
        yield* server.join
        return text(response)
      })
      const live = Layer.merge(Server.layer(path, TestApplication.handler), Client.layer(path))
      assert.strictEqual(yield* Effect.provide(program, live), "pong")
      assert.isFalse(fs.existsSync(path))
    }))
})
