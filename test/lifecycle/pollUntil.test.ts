/**
 * The one wait for a state at a path (starting, restarting and stopping
 * daemons all use it), on the test clock, with a fake state: the number of
 * looks so far.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import { PollTimeout, pollUntil } from "../../src/internal/Poll.ts"

/** A look that sees how many looks there have been, recording when each was made. */
const counting = () => {
  const times: Array<number> = []
  const look = Effect.map(Clock.currentTimeMillis, (now) => {
    times.push(now)
    return times.length
  })
  return { times, look }
}

const options = { interval: Duration.millis(50), timeout: Duration.millis(120) }

describe("pollUntil", () => {
  it.effect("a state reached at the first look: one look, no wait", () =>
    Effect.gen(function*() {
      const { look, times } = counting()
      const start = yield* Clock.currentTimeMillis
      assert.strictEqual(yield* pollUntil(look, (n) => n >= 1, options), 1)
      assert.deepStrictEqual(times, [start])
    }))

  it.effect("a state reached later: a look every interval until then, and none after", () =>
    Effect.gen(function*() {
      const { look, times } = counting()
      const start = yield* Clock.currentTimeMillis
      const polling = yield* Effect.forkChild(pollUntil(look, (n) => n === 3, options))
      yield* TestClock.adjust(Duration.millis(50))
      assert.isUndefined(polling.pollUnsafe(), "still waiting after two looks")
      assert.deepStrictEqual(times, [start, start + 50])
      yield* TestClock.adjust(Duration.millis(50))
      assert.strictEqual(yield* Fiber.join(polling), 3)
      yield* TestClock.adjust(Duration.seconds(1))
      assert.deepStrictEqual(times, [start, start + 50, start + 100])
    }))

  it.effect("time up: PollTimeout with what the last look saw, made when the time was up", () =>
    Effect.gen(function*() {
      const { look, times } = counting()
      const start = yield* Clock.currentTimeMillis
      const polling = yield* Effect.forkChild(Effect.flip(pollUntil(look, () => false, options)))
      yield* TestClock.adjust(Duration.millis(120))
      const timedOut = yield* Fiber.join(polling)
      assert.instanceOf(timedOut, PollTimeout)
      assert.strictEqual(timedOut.last, 4)
      assert.isTrue(Duration.equals(timedOut.timeout, Duration.millis(120)))
      // The last wait is cut short to end when the time is up, not past it.
      assert.deepStrictEqual(times, [start, start + 50, start + 100, start + 120])
    }))

  it.effect("a timeout of 0 is exactly one look, with no wait", () =>
    Effect.gen(function*() {
      const { look, times } = counting()
      const start = yield* Clock.currentTimeMillis
      const polling = yield* Effect.forkChild(
        Effect.flip(pollUntil(look, () => false, { interval: Duration.millis(50), timeout: 0 }))
      )
      // Time enough for more looks, were there to be any.
      yield* TestClock.adjust(Duration.seconds(1))
      const timedOut = yield* Fiber.join(polling)
      assert.strictEqual(timedOut.last, 1)
      assert.deepStrictEqual(times, [start])
    }))
})
