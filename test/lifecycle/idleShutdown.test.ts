/**
 * Idle shutdown: a server given `idleShutdown` stops once no request has
 * come for that long, counted from the end of the last request; a request
 * in flight keeps it up, a probe does not; its socket is removed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import * as Client from "../../src/client/Client.ts"
import * as Server from "../../src/server/Server.ts"
import { text } from "../support/bytes.ts"
import { exitOf, spawnScoped } from "../support/child.ts"
import { listening } from "../support/probe.ts"
import { waitUntil } from "../support/raw.ts"
import { socketPath } from "../support/tempdir.ts"

const idleDaemon = fileURLToPath(new URL("./idleDaemon.ts", import.meta.url))

describe("idle shutdown", () => {
  it.effect("stops a minute after the last request, not while one is in flight, whatever probes come", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const gate = yield* Deferred.make<void>()
      const entered = yield* Deferred.make<void>()
      const server = yield* Server.make(path, (request, reply) => {
        if (text(request) === "ping") return reply("pong")
        return Effect.andThen(Deferred.succeed(entered, undefined), Deferred.await(gate)).pipe(Effect.andThen(reply("done")))
      }, { idleShutdown: Duration.minutes(1) })
      const stopped = yield* Effect.forkChild(server.join)
      // Whatever happens, the held request ends before the server's scope
      // closes (its grace period would be measured on the test clock).
      yield* Effect.addFinalizer(() => Deferred.succeed(gate, undefined))

      // Idle from the start: 59 s in, a request comes, and the minute starts again.
      yield* TestClock.adjust(Duration.seconds(59))
      assert.isTrue(yield* listening(path))
      assert.strictEqual(text(yield* Client.request(path, "ping")), "pong")
      yield* TestClock.adjust(Duration.seconds(59))
      assert.isTrue(yield* listening(path), "59 s after the last request")

      // A request in flight for longer than the limit keeps the server up.
      const slow = yield* Effect.forkChild(Client.request(path, "slow"))
      yield* Deferred.await(entered)
      yield* TestClock.adjust(Duration.minutes(5))
      assert.isTrue(yield* listening(path), "while a request is in flight")
      yield* Deferred.succeed(gate, undefined)
      assert.strictEqual(text(yield* Fiber.join(slow)), "done")

      // Probes (the `listening` checks above and these) are no requests.
      yield* TestClock.adjust(Duration.seconds(30))
      assert.isTrue(yield* listening(path))
      assert.isUndefined(stopped.pollUnsafe())
      yield* TestClock.adjust(Duration.seconds(30))
      yield* Fiber.join(stopped)
      assert.isFalse(yield* listening(path))
      assert.isFalse(fs.existsSync(path), "the socket is removed")
    }))

  it.effect("an idleShutdown of 0 is none: the server stays up", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const server = yield* Server.make(path, (_request, reply) => reply("pong"), { idleShutdown: 0 })
      const stopped = yield* Effect.forkChild(server.join)
      yield* TestClock.adjust(Duration.hours(1))
      assert.isUndefined(stopped.pollUnsafe())
      assert.isTrue(yield* listening(path))
    }))

  it.live("a daemon process with idle shutdown exits by itself after its last request, and removes its socket", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const idleMs = 1000
      const daemon = yield* spawnScoped([idleDaemon, path, String(idleMs)], { stdio: "pipe" })
      const exited = yield* Effect.forkChild(exitOf(daemon))
      yield* waitUntil(listening(path))
      assert.strictEqual(text(yield* Client.request(path, "ping")), "pong")
      const answeredAt = performance.now()

      assert.deepStrictEqual(yield* Fiber.join(exited), { code: 0, signal: null })
      // It stopped by itself, and not at once (the bound is loose: the
      // daemon's clock starts when it closes the connection, before this
      // process, on a loaded machine maybe much later, reads the answer;
      // the exact timing is the TestClock test's).
      assert.isAtLeast(performance.now() - answeredAt, idleMs / 2)
      assert.isFalse(fs.existsSync(path), "the socket is removed")
      assert.strictEqual(yield* Client.activeState(path), "NotListening")
    }), 30_000)
})
