/**
 * The listener queues accepted connections in order, refuses one that
 * finds the queue full, and closes those still waiting when it closes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Queue } from "effect"
import * as net from "node:net"
import * as Listener from "../../src/transport/Listener.ts"
import { socketPath } from "../support/tempdir.ts"

/** Connects and resolves with the socket and a deferred end: when the listener closes it. */
const connectTo = (path: string) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly socket: net.Socket; readonly closed: Promise<void> }, Error>((resume) => {
      const socket = net.connect({ path })
      const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()))
      socket.on("error", () => {})
      socket.once("connect", () => resume(Effect.succeed({ socket, closed })))
    }),
    ({ socket }) => Effect.sync(() => socket.destroy())
  )

describe("Listener", () => {
  it.live("accepted connections wait in order; one that finds the queue full is closed at once; closing closes the rest", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const listener = yield* Listener.make(path, { queueCapacity: 2 })
      const first = yield* connectTo(path)
      const second = yield* connectTo(path)
      first.socket.write("1")
      second.socket.write("2")
      const firstByte = (socket: net.Socket) =>
        Effect.promise(() => new Promise<string>((resolve) => socket.once("data", (chunk) => resolve(String(chunk)))))
      const accepted = [yield* Queue.take(listener.accepted), yield* Queue.take(listener.accepted)]
      assert.deepStrictEqual([yield* firstByte(accepted[0]!), yield* firstByte(accepted[1]!)], ["1", "2"])
      for (const socket of accepted) socket.destroy()
      yield* Effect.promise(() => Promise.all([first.closed, second.closed]))

      const waiting = [yield* connectTo(path), yield* connectTo(path)]
      const refused = yield* connectTo(path)
      yield* Effect.promise(() => refused.closed)
      assert.strictEqual(yield* listener.close, 2)
      yield* Effect.promise(() => Promise.all(waiting.map((w) => w.closed)))
    }))
})
