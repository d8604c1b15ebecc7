/**
 * The scenarios of Git's own test of Simple IPC, in process, over real
 * sockets, each in its own temp dir.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as Client from "../../src/client/Client.ts"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { text } from "../support/bytes.ts"
import { socketPath } from "../support/tempdir.ts"

const serve = (path: string, options?: Server.Options) => Server.make(path, TestApplication.handler, { threads: 8, ...options })

const send = (path: string, request: string) => Effect.map(Client.request(path, request, { waitIfBusy: true }), text)

const lines = (response: string) => response.split("\n").filter((l) => l.length > 0)

describe("Git's Simple IPC scenarios", () => {
  it.live("a server started with 8 threads is listening", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      assert.strictEqual(yield* Client.activeState(path), "NotListening")
      yield* serve(path)
      assert.strictEqual(yield* Client.activeState(path), "Listening")
    }))

  it.live("ping gives pong", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* serve(path)
      assert.strictEqual(yield* send(path, "ping"), "pong")
    }))

  it.live("a second server on the same path fails with 'address in use' and the first keeps serving", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* serve(path)
      const error = yield* Effect.flip(Effect.scoped(serve(path)))
      assert.strictEqual(error._tag, "ListenError")
      assert.strictEqual((error as { reason: string }).reason, "AddressInUse")
      assert.strictEqual(error.message, `socket/pipe already in use: '${path}'`)
      assert.strictEqual(yield* send(path, "ping"), "pong")
    }))

  it.live("big and chunk give 10000 lines ending with row 9999", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* serve(path)
      for (const command of ["big", "chunk"]) {
        const response = lines(yield* send(path, command))
        assert.isAtLeast(response.length, 10000)
        assert.strictEqual(response.at(-1), `big: ${"0".repeat(71)}9999`)
      }
    }))

  it.live("slow gives its 1000 lines", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* serve(path)
      const response = lines(yield* send(path, "slow"))
      assert.strictEqual(response.length, 1000)
      assert.strictEqual(response.at(-1), TestApplication.row(999).trimEnd())
    }), 30_000)

  it.live("a request of 100000 A's is acknowledged as rcvd:A00100000", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* serve(path)
      assert.strictEqual(yield* send(path, "sendbytes " + "A".repeat(100000)), "rcvd:A00100000\n")
    }))

  it.live("7 concurrent clients x 13 requests with growing ballast all succeed with exact replies", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* serve(path)
      const results = yield* Effect.forEach(
        Array.from({ length: 7 }, (_, k) => k),
        (k) => {
          const letter = String.fromCharCode(65 + (k % 26))
          const base = 19 + 13 * Math.floor(k / 26)
          return Effect.forEach(Array.from({ length: 13 }, (_, j) => base + j), (count) =>
            Effect.map(send(path, "sendbytes " + letter.repeat(count)), (reply) => {
              assert.strictEqual(reply, `rcvd:${letter}${String(count).padStart(8, "0")}\n`)
              return reply
            }))
        },
        { concurrency: "unbounded" }
      )
      assert.strictEqual(results.flat().length, 91)
    }))

  it.live("quit stops the server: the path is no longer listening and a later send fails", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const server = yield* serve(path)
      assert.strictEqual(yield* send(path, "quit"), "")
      yield* server.join
      assert.notStrictEqual(yield* Client.activeState(path), "Listening")
      const exit = yield* Effect.exit(Client.request(path, "ping"))
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(Client.request(path, "ping"))
      assert.strictEqual(error._tag, "ConnectError")
    }))
})
