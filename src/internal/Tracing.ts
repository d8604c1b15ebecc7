/**
 * Spans where someone can see them.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"

/**
 * Wraps `effect` in a span named `name` with a `socket` attribute, but only
 * when a tracer is installed: a span costs on every request (several
 * microseconds), and without a tracer nobody could see it. The location is
 * fixed, so no stack trace is captured.
 *
 * @since 0.1.0
 */
export const spanIfTraced = <A, E, R>(name: string, socket: string, effect: Effect.Effect<A, E, R>) =>
  Effect.flatMap(Effect.tracer, (tracer) =>
    tracer === Tracer.nativeTracer
      ? effect
      : effect.pipe(Effect.withSpan(name, { attributes: { socket } }, { captureStackTrace: false })))
