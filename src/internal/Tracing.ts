/**
 * Spans where someone can see them.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"

/**
 * Wraps `effect` in a span named `name` with a `socket` attribute. The
 * location is fixed, so no stack trace is captured.
 *
 * @since 0.2.0
 */
export const span = <A, E, R>(name: string, socket: string, effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.withSpan(name, { attributes: { socket } }, { captureStackTrace: false }))

/**
 * `traced()` when a tracer is installed, else `untraced()`: for a path that
 * has a faster form when nobody watches its steps. Only the one taken is
 * built: building an effect costs too, on every request.
 *
 * @since 0.2.0
 */
export const ifTraced = <A, E, R, A2, E2, R2>(
  traced: () => Effect.Effect<A, E, R>,
  untraced: () => Effect.Effect<A2, E2, R2>
): Effect.Effect<A | A2, E | E2, R | R2> =>
  // One step that reads the fiber's tracer, rather than a step for the
  // tracer and another for what follows.
  Effect.withFiber((fiber): Effect.Effect<A | A2, E | E2, R | R2> =>
    watches(fiber.getRef(Tracer.Tracer)) ? traced() : untraced())

/**
 * Whether `tracer` records spans: Effect's native tracer is the one
 * installed when nobody has provided another.
 *
 * @since 0.2.0
 */
export const watches = (tracer: Tracer.Tracer): boolean => tracer !== Tracer.nativeTracer
