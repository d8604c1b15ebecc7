/**
 * The server's tests (Server.test.ts) again, each under a recording tracer
 * (see support/tracing.ts): with a tracer installed the server makes its
 * spans by hand, on every way a connection can end (served, refused,
 * failed, cut off at shutdown).
 */
import { afterAll, describe } from "@effect/vitest"
import { assertTracedRun, traceEveryTest } from "../support/tracing.ts"

const spans = traceEveryTest()

describe("with a tracer installed", async () => {
  await import("./Server.test.ts")
  afterAll(() => assertTracedRun(spans))
})
