/**
 * Waiting for a state that no event announces: a daemon listening, or gone.
 * A client can only look (`Client.activeState`), so it looks again and
 * again until the state is reached or its time is up. Every wait of the
 * kind — a started daemon coming up, an old one stopping, `stop-daemon`,
 * the fsmonitor client's `stop` — goes through {@link pollUntil}, so that
 * they agree on what a timeout means.
 *
 * @since 0.2.0
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * @since 0.2.0
 * @category models
 */
export interface PollOptions {
  /** How long to wait between two looks. */
  readonly interval: Duration.Input
  /**
   * How long to keep looking, counted from the first look. 0 means: look
   * now, and do not wait.
   */
  readonly timeout: Duration.Input
}

/**
 * The time was up and the state still not reached: `last` is what the
 * last look saw. Each caller turns it into its own error, which names the
 * path and says what to do.
 *
 * @since 0.2.0
 * @category errors
 */
export class PollTimeout<A> extends Data.TaggedError("PollTimeout")<{
  readonly last: A
  readonly timeout: Duration.Duration
}> {
  override get message(): string {
    return `still ${String(this.last)} after ${Duration.format(this.timeout)}`
  }
}

/**
 * Runs `look` until what it sees satisfies `reached`, and succeeds with
 * that; fails with {@link PollTimeout} when the time is up first.
 *
 * It looks at once, then every `interval`, and a last time when the time
 * is up (a wait is cut short to end there, never past it). A timeout of 0
 * is exactly one look, with no wait: "is it there now?".
 *
 * @since 0.2.0
 * @category waiting
 */
export const pollUntil = <A, E, R>(
  look: Effect.Effect<A, E, R>,
  reached: (state: A) => boolean,
  options: PollOptions
): Effect.Effect<A, E | PollTimeout<A>, R> => {
  const interval = Duration.toMillis(Duration.fromInputUnsafe(options.interval))
  const timeout = Duration.fromInputUnsafe(options.timeout)
  return Effect.flatMap(Clock.currentTimeMillis, (start) => {
    const deadline = start + Duration.toMillis(timeout)
    const poll: Effect.Effect<A, E | PollTimeout<A>, R> = Effect.flatMap(look, (state) =>
      reached(state) ? Effect.succeed(state) : Effect.flatMap(Clock.currentTimeMillis, (now) =>
        now >= deadline
          ? Effect.fail(new PollTimeout({ last: state, timeout }))
          : Effect.andThen(Effect.sleep(Math.min(interval, deadline - now)), poll)))
    return poll
  })
}
