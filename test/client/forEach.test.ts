/**
 * Reading a response with pieces lent from one reused read buffer
 * (`Client.requestForEach`), and a connection with a read buffer read the
 * ordinary ways: nothing handed out may change under its holder.
 */
import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Stream } from "effect"
import * as net from "node:net"
import * as Client from "../../src/client/Client.ts"
import * as PktLine from "../../src/framing/PktLine.ts"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import * as Connection from "../../src/transport/Connection.ts"
import { bytes, text } from "../support/bytes.ts"
import { baseline } from "../support/raw.ts"
import { socketPath } from "../support/tempdir.ts"

/** One turn of the event loop, I/O included: time for more reads to land. */
const ioTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

class Enough extends Data.TaggedError("Enough")<{ readonly pieces: number }> {}

/**
 * A server at `path` that hands each connection to `answer` once the first
 * bytes of its request arrive.
 */
const peer = (path: string, answer: (socket: net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.callback<net.Server>((resume) => {
      const server = net.createServer((socket) => {
        socket.on("error", () => {})
        socket.once("data", () => answer(socket))
      })
      server.listen(path, () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
  )

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
      const client = Client.makeService(path)
      let length = 0
      yield* client.requestForEach("chunk", (piece) => Effect.sync(() => void (length += piece.length)))
      assert.strictEqual(length, (yield* client.request("chunk")).length)
      assert.isAbove(length, 0)
    }))
})

describe("a connection with a read buffer", () => {
  it.live("read as a stream or as one message, hands out chunks that stay the caller's", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* Server.make(path, TestApplication.handler)
      const whole = yield* Client.request(path, "big")
      const open = Effect.acquireRelease(
        Connection.open(path, {
          send: PktLine.encodeMessageChunks(bytes("big")),
          readBuffer: Buffer.alloc(64 * 1024) // a Buffer: its slice() makes views
        }),
        (connection) => Effect.sync(() => connection.socket.destroy())
      )
      // All chunks are held to the end, while the read buffer is reused
      // for every read: a chunk that was a view of it would be overwritten.
      const chunks = yield* Stream.runCollect(Connection.messageStream(yield* open))
      assert.isAbove(chunks.length, 1)
      assert.deepStrictEqual(Buffer.from(PktLine.concat(chunks)), Buffer.from(whole))
      const message = yield* Connection.readMessage(yield* open)
      assert.deepStrictEqual(Buffer.from(message), Buffer.from(whole))
    }))

  it.live("read as a stream from a peer that keeps the connection open, delivers each piece as it arrives", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const payload = new Uint8Array(300_000).map((_, i) => i % 253)
      // Answers, then stays: only the message's own end can end the stream.
      yield* peer(path, (socket) => socket.write(PktLine.encodeMessageBytes(payload)))
      const connection = yield* Effect.acquireRelease(
        Connection.open(path, { send: PktLine.encodeMessageChunks(bytes("ping")), readBuffer: new Uint8Array(16 * 1024) }),
        (connection) => Effect.sync(() => connection.socket.destroy())
      )
      const chunks = yield* Stream.runCollect(Connection.messageStream(connection)).pipe(
        Effect.timeoutOrElse({ duration: "5 seconds", orElse: () => Effect.die("the stream never ended") })
      )
      assert.deepStrictEqual(Buffer.from(PktLine.concat(chunks)), Buffer.from(payload))
    }))

  it.live("read as a stream, hands over what full reads brought before more comes, when more comes only after", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const payload = new Uint8Array(400_000).map((_, i) => i % 251)
      const message = PktLine.encodeMessageBytes(payload)
      // Sends two full reads' worth of the message at once (each read fills
      // Node's 64 KiB read buffer), and the rest only once the client has
      // shown it received the first 100 000 payload bytes.
      const firstPart = 2 * 64 * 1024
      let sendRest: () => void = () => {}
      const gate = new Promise<void>((resolve) => {
        sendRest = resolve
      })
      yield* peer(path, (socket) => {
        socket.write(message.subarray(0, firstPart))
        void gate.then(() => socket.end(message.subarray(firstPart)))
      })
      let received = 0
      const chunks = yield* Client.requestStream(path, "ping").pipe(
        Stream.tap((chunk) =>
          Effect.sync(() => {
            received += chunk.length
            if (received >= 100_000) sendRest()
          })
        ),
        Stream.runCollect,
        Effect.timeoutOrElse({ duration: "5 seconds", orElse: () => Effect.die("the first part was never handed over") })
      )
      assert.deepStrictEqual(Buffer.from(PktLine.concat(chunks)), Buffer.from(payload))
    }))
})
