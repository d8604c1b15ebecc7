/**
 * Spans where someone can see them.
 *
 * Requests and connections are served in socket callbacks, where no fiber
 * runs, so their spans are made by hand ({@link HandSpans}); and only when
 * a tracer is installed, since a span costs on every request. The work is
 * the same either way: only whether it is recorded differs.
 */
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Tracer from "effect/Tracer"

/**
 * Whether `tracer` records spans: Effect's native tracer is the one
 * installed when nobody has provided another.
 */
export const watches = (tracer: Tracer.Tracer): boolean => tracer !== Tracer.nativeTracer

/**
 * Runs `f` with hand-made spans when the fiber's tracer records them, and
 * with `undefined` otherwise, in one step that reads the tracer. The span
 * `name` wraps the whole when traced.
 */
export const traced = <A, E, R>(
  name: string,
  socket: string,
  f: (spans: HandSpans | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) =>
    watches(fiber.getRef(Tracer.Tracer))
      ? Effect.withFiber((inner) => f(handSpans(socket, inner.context as Context.Context<never>, inner.getRef(Clock.Clock)))).pipe(
        Effect.withSpan(name, { attributes: { socket }, kind: "client" }, { captureStackTrace: false })
      )
      : f(undefined)
  )

/** Spans opened and ended by hand, each with a `socket` attribute. */
export interface HandSpans {
  /** Opens a span now, as a child of `parent` or of the current span of the context the spans were made in. */
  readonly open: (name: string, parent?: Tracer.AnySpan) => Tracer.Span
  /** Ends `span` now with `exit`, unless it has ended already. */
  readonly end: (span: Tracer.Span | undefined, exit: Exit.Exit<unknown, unknown>) => void
}

export const handSpans = (socket: string, context: Context.Context<never>, clock: Clock.Clock): HandSpans => ({
  open: (name, parent) =>
    Effect.runSyncWith(context)(Effect.makeSpan(name, { attributes: { socket }, ...(parent !== undefined ? { parent } : {}) })),
  end: (span, exit) => {
    if (span !== undefined && span.status._tag === "Started") span.end(clock.currentTimeNanosUnsafe(), exit)
  }
})
