/**
 * The limits and timeouts (limits.test.ts) again, each under a recording
 * tracer (see support/tracing.ts): with a tracer installed the server makes
 * its spans by hand, and every drop, timeout and refusal must end them.
 */
import { afterAll, describe } from "@effect/vitest"
import { assertTracedRun, traceEveryTest } from "../support/tracing.ts"

const spans = traceEveryTest()

describe("with a tracer installed", async () => {
  await import("./limits.test.ts")
  afterAll(() => assertTracedRun(spans))
})
