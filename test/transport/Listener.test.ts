/**
 * The listener hands each accepted connection first to whoever can take it
 * at once, and queues the rest in order.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Queue } from "effect"
import * as net from "node:net"
import * as Listener from "../../src/transport/Listener.ts"
import { socketPath } from "../support/tempdir.ts"

const connectTo = (path: string) =>
  Effect.acquireRelease(
    Effect.callback<net.Socket, Error>((resume) => {
      const socket = net.connect({ path })
      socket.once("connect", () => resume(Effect.succeed(socket)))
      socket.once("error", (error) => resume(Effect.fail(error)))
    }),
    (socket) => Effect.sync(() => socket.destroy())
  )

describe("Listener", () => {
  it.live("a connection `take` accepts never enters the queue; the next one, refused by `take`, waits there", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const outcomes: Array<string> = []
      const taken = yield* Deferred.make<net.Socket>()
      let room = 1
      const listener = yield* Listener.make(path, {
        take: (socket) => {
          if (room === 0) return false
          room--
          Deferred.doneUnsafe(taken, Effect.succeed(socket))
          return true
        },
        onAccept: (outcome) => void outcomes.push(outcome)
      })
      yield* connectTo(path)
      const first = yield* Deferred.await(taken)
      first.destroy()
      yield* connectTo(path)
      const queued = yield* Queue.take(listener.accepted)
      queued.destroy()
      assert.deepStrictEqual(outcomes, ["taken", "queued"])
      assert.strictEqual(Queue.sizeUnsafe(listener.accepted), 0)
    }))
})
