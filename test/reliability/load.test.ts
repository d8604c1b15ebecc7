/**
 * Load: many concurrent clients, many requests, no failure, and no memory
 * growth in the server (run in its own process so that its memory is its
 * own).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Client from "../../src/client/Client.ts"
import { text } from "../support/bytes.ts"
import { settledRssMiB, startDaemon } from "../support/child.ts"
import { socketPath } from "../support/tempdir.ts"

/** `total` requests from `clients` concurrent clients; returns the number of failures. */
const hammer = (path: string, clients: number, total: number) =>
  Effect.map(
    Effect.forEach(
      Array.from({ length: clients }, (_, k) => k),
      (k) =>
        Effect.gen(function*() {
          let failures = 0
          const letter = String.fromCharCode(65 + (k % 26))
          for (let j = k; j < total; j += clients) {
            const count = 1 + (j % 200)
            const exit = yield* Effect.exit(Client.request(path, `sendbytes ${letter.repeat(count)}`, { waitIfBusy: true }))
            if (exit._tag === "Failure" || text(exit.value) !== `rcvd:${letter}${String(count).padStart(8, "0")}\n`) {
              failures++
            }
          }
          return failures
        }),
      { concurrency: "unbounded" }
    ),
    (failures) => failures.reduce((a, b) => a + b, 0)
  )

describe("load", () => {
  it.live("64 concurrent clients, 100 000 requests: zero failures, and the server's memory does not grow", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const daemon = yield* startDaemon(path, 8)
      // Warm up until the heap reaches its working size (V8 grows it in steps
      // under load, and keeps what it has committed), so that what it takes
      // once counts as before: only growth after that is a leak. Readings are
      // taken after a full collection, so garbage waiting for one does not count.
      assert.strictEqual(yield* hammer(path, 64, 60_000), 0)
      const before = yield* settledRssMiB(daemon)
      assert.strictEqual(yield* hammer(path, 64, 100_000), 0)
      const after = yield* settledRssMiB(daemon)
      assert.isBelow(after - before, 32, `server RSS grew from ${before.toFixed(1)} to ${after.toFixed(1)} MiB`)
    }), 300_000)
})
