/**
 * Suites that run a second time with a tracer installed. With a tracer,
 * the server makes its spans by hand and the client takes its traced
 * path: code that runs only when someone watches, so a whole suite is run
 * again under a tracer that records every span.
 *
 * A suite file takes `it` from here rather than from `@effect/vitest`. Its
 * traced twin (`<suite>.traced.test.ts`) calls {@link traceEveryTest}, then
 * imports the suite file inside a `describe`: the suite's tests, defined
 * after that call, each run under the recording tracer. Vitest gives every
 * test file a module graph of its own, so the suite file run by itself
 * sees no tracer and runs its tests exactly as written.
 */
import { assert, it as effectIt, type Vitest } from "@effect/vitest"
import { Effect, Tracer } from "effect"
import type * as Scope from "effect/Scope"

/** A tracer that records every span it opens, in `spans`. */
export const recordingTracer = (spans: Array<Tracer.Span>): Tracer.Tracer =>
  Tracer.make({
    span: (options) => {
      const span = Tracer.nativeTracer.span(options)
      spans.push(span)
      return span
    }
  })

/** The tracer tests defined from now on run under; none until {@link traceEveryTest}. */
let installed: Tracer.Tracer | undefined

/**
 * Makes every test defined from now on (in this test file) run under a
 * recording tracer; returns the spans it records, for all of them.
 */
export const traceEveryTest = (): ReadonlyArray<Tracer.Span> => {
  const spans: Array<Tracer.Span> = []
  installed = recordingTracer(spans)
  return spans
}

/**
 * `it.live` of `@effect/vitest`, whose test runs under the recording
 * tracer once {@link traceEveryTest} has been called, and as written
 * otherwise.
 */
export const it: { readonly live: Vitest.Test<Scope.Scope> } = {
  live: (name, self, timeout) => {
    const tracer = installed
    effectIt.live(name, tracer === undefined ? self : (context) => Effect.withTracer(self(context), tracer), timeout)
  }
}

/**
 * Asserts that a traced run took the traced paths: the server made its
 * serve spans by hand, and ended every one whatever became of its
 * connection; the client recorded its requests as spans.
 */
export const assertTracedRun = (spans: ReadonlyArray<Tracer.Span>): void => {
  const serves = spans.filter((span) => span.name === "SimpleIpc.serve")
  assert.isAbove(serves.length, 0, "no serve span was recorded")
  const open = serves.filter((span) => span.status._tag !== "Ended")
  assert.strictEqual(open.length, 0, `serve spans never ended: ${open.length} of ${serves.length}`)
  assert.isAbove(spans.filter((span) => span.name === "SimpleIpc.request").length, 0, "no request span was recorded")
}
