/**
 * A connection's reads when its socket has a history before it is wrapped.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as net from "node:net"
import * as PktLine from "../../src/framing/PktLine.ts"
import * as Connection from "../../src/transport/Connection.ts"
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
      const error = yield* Effect.flip(Connection.makeUnsafe(socket, path).readMessage())
      assert.instanceOf(error, PktLine.PktLineError)
      assert.strictEqual(error.reason, "UnexpectedEnd")
    }))
})
