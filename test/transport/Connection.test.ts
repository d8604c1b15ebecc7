/**
 * A connection's reads: when its socket has a history before it is
 * wrapped, and with a read buffer read the ordinary ways, where nothing
 * handed out may change under its holder.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as net from "node:net"
import * as Client from "../../src/client/Client.ts"
import * as PktLine from "../../src/framing/PktLine.ts"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { open as openConnection, SocketConnection } from "../../src/transport/internal/socketConnection.ts"
import { bytes } from "../support/bytes.ts"
import { peer } from "../support/raw.ts"
import { socketPath } from "../support/tempdir.ts"

/** A server-side socket whose client has connected and ended its side, once that end has been read. */
const endedByPeer = (path: string) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly server: net.Server; readonly socket: net.Socket }, Error>((resume) => {
      const server = net.createServer({ allowHalfOpen: true }, (socket) => {
        socket.once("end", () => resume(Effect.succeed({ server, socket })))
        socket.resume()
      })
      server.once("error", (error) => resume(Effect.fail(error)))
      server.listen(path, () => net.connect({ path }).end())
    }),
    ({ server, socket }) => Effect.sync(() => {
      socket.destroy()
      server.close()
    })
  )

describe("Connection", () => {
  it.live("a socket whose peer's end was read before it was wrapped reads as ended, not as waiting for ever", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const { socket } = yield* endedByPeer(path)
      assert.isTrue(socket.readableEnded)
      const error = yield* Effect.flip(new SocketConnection(socket, path).readMessage())
      assert.instanceOf(error, PktLine.PktLineError)
      assert.strictEqual(error.reason, "UnexpectedEnd")
    }))
})

describe("a connection with a read buffer", () => {
  it.live("read as a stream or as one message, hands out chunks that stay the caller's", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* Server.make(path, TestApplication.handler)
      const whole = yield* Client.request(path, "big")
      const open = Effect.acquireRelease(
        openConnection(path, {
          send: PktLine.encodeMessageChunks(bytes("big")),
          readBuffer: Buffer.alloc(64 * 1024) // a Buffer: its slice() makes views
        }),
        (connection) => Effect.sync(() => connection.socket.destroy())
      )
      // All chunks are held to the end, while the read buffer is reused
      // for every read: a chunk that was a view of it would be overwritten.
      const chunks = yield* Stream.runCollect((yield* open).messageStream())
      assert.isAbove(chunks.length, 1)
      assert.deepStrictEqual(Buffer.from(PktLine.concat(chunks)), Buffer.from(whole))
      const message = yield* (yield* open).readMessage()
      assert.deepStrictEqual(Buffer.from(message), Buffer.from(whole))
    }))

  it.live("read as a stream from a peer that keeps the connection open, delivers each piece as it arrives", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const payload = new Uint8Array(300_000).map((_, i) => i % 253)
      // Answers, then stays: only the message's own end can end the stream.
      yield* peer(path, (socket) => socket.write(PktLine.encodeMessageBytes(payload)))
      const connection = yield* Effect.acquireRelease(
        openConnection(path, { send: PktLine.encodeMessageChunks(bytes("ping")), readBuffer: new Uint8Array(16 * 1024) }),
        (connection) => Effect.sync(() => connection.socket.destroy())
      )
      const chunks = yield* Stream.runCollect(connection.messageStream()).pipe(
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
