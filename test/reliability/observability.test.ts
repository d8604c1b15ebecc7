/**
 * What an operator sees: spans around serving and requesting, and a warning
 * for a socket directory anyone could tamper with.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, Option, Tracer } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Client from "../../src/client/Client.ts"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { tempDir } from "../support/tempdir.ts"
import { recordingTracer } from "../support/tracing.ts"

describe("observability", () => {
  it.live("with a tracer installed, connecting, sending, accepting and serving are spans carrying the socket path", () =>
    Effect.gen(function*() {
      const path = nodePath.join(yield* tempDir, "s")
      const spans: Array<Tracer.Span> = []
      const tracer = recordingTracer(spans)
      yield* Effect.withTracer(
        Effect.gen(function*() {
          const server = yield* Server.make(path, TestApplication.handler)
          yield* Client.request(path, "ping")
          yield* server.stop
          yield* server.join
        }),
        tracer
      )
      const named = (name: string) => {
        const found = spans.filter((span) => span.name === name)
        assert.strictEqual(found.length, 1, name)
        assert.strictEqual(found[0]!.attributes.get("socket"), path)
        assert.strictEqual(found[0]!.status._tag, "Ended")
        return found[0]!
      }
      const request = named("SimpleIpc.request")
      const serve = named("SimpleIpc.serve")
      // Connecting and the exchange are parts of the request; reading the
      // request it accepted is part of serving.
      const parentOf = (span: Tracer.Span) => Option.getOrUndefined(span.parent)?.spanId
      assert.strictEqual(parentOf(named("SimpleIpc.connect")), request.spanId)
      assert.strictEqual(parentOf(named("SimpleIpc.send")), request.spanId)
      assert.strictEqual(parentOf(named("SimpleIpc.accept")), serve.spanId)
    }))

  it.live("a socket directory writable by everyone without the sticky bit draws a warning", () =>
    Effect.gen(function*() {
      const shared = yield* tempDir
      fs.chmodSync(shared, 0o777)
      const sticky = yield* tempDir
      fs.chmodSync(sticky, 0o1777)
      const warnings: Array<string> = []
      const logger = Logger.make(({ logLevel, message }) => {
        if (logLevel === "Warn") warnings.push(String(message))
      })
      const start = (dir: string) =>
        Effect.scoped(Server.make(nodePath.join(dir, "s"), TestApplication.handler)).pipe(
          Effect.provide(Logger.layer([logger]))
        )
      yield* start(shared)
      assert.strictEqual(warnings.length, 1)
      assert.include(warnings[0]!, "writable by every user")
      assert.include(warnings[0]!, shared)
      yield* start(sticky)
      assert.strictEqual(warnings.length, 1)
    }))
})
