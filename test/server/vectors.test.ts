/**
 * Wire compatibility with Git's C implementation, against its recordings:
 * our server answers Git's recorded requests with the same bytes, and our
 * client reaches the result Git's client reached.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as Client from "../../src/client/Client.ts"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { text } from "../support/bytes.ts"
import { exchange, fakeServer } from "../support/raw.ts"
import { socketPath } from "../support/tempdir.ts"
import { clientCases, serverCases, transcript, transcriptNames } from "../support/vectors.ts"

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex")

describe("our server answers Git's recorded requests byte for byte", () => {
  for (const vector of serverCases.filter((c) => c.name !== "quit")) {
    it.live(`server case: ${vector.name}`, () =>
      Effect.gen(function*() {
        const path = yield* socketPath()
        yield* Server.make(path, TestApplication.handler)
        const result = yield* exchange(path, vector.request, { halfClose: vector.clientHalfCloses })
        assert.strictEqual(hex(result.response), hex(vector.response))
        assert.strictEqual(result.closed, vector.serverClosedConnection)
        // Whatever the client did, the server is still serving.
        assert.strictEqual(text(yield* Client.request(path, "ping")), "pong")
      }))
  }

  it.live("server case: quit (the server answers a bare flush, then shuts down and removes its socket)", () =>
    Effect.gen(function*() {
      const vector = serverCases.find((c) => c.name === "quit")!
      const path = yield* socketPath()
      const server = yield* Server.make(path, TestApplication.handler)
      const result = yield* exchange(path, vector.request, { halfClose: vector.clientHalfCloses })
      assert.strictEqual(hex(result.response), hex(vector.response))
      assert.isTrue(result.closed)
      yield* server.join
      assert.strictEqual(yield* Client.activeState(path), "NotListening")
    }))

  for (const name of transcriptNames) {
    it.live(`transcript: ${name}`, () =>
      Effect.gen(function*() {
        const path = yield* socketPath()
        yield* Server.make(path, TestApplication.handler)
        const { request, response } = transcript(name)
        const result = yield* exchange(path, request)
        assert.strictEqual(result.response.length, response.length)
        assert.isTrue(Buffer.from(result.response).equals(Buffer.from(response)))
      }))
  }
})

describe("our client reaches the result Git's client reached", () => {
  for (const vector of clientCases) {
    it.live(`client case: ${vector.name}`, () =>
      Effect.gen(function*() {
        const path = yield* socketPath("fake.sock")
        yield* fakeServer(path, vector.response)
        const exit = yield* Effect.exit(Client.request(path, "ping"))
        if (vector.exit === 0) {
          assert.isTrue(Exit.isSuccess(exit), `expected success, got ${String(exit)}`)
          const response = (exit as Exit.Success<Uint8Array>).value
          // Git prints the response and a newline when it is not empty; its
          // C string printing stops at a NUL byte, where we keep every byte.
          const printed = response.length > 0 ? Buffer.concat([response, Buffer.from("\n")]) : Buffer.alloc(0)
          if (vector.name === "binary-payload") {
            assert.strictEqual(hex(response), "0001ff807f")
          } else {
            assert.strictEqual(hex(printed), hex(vector.stdout))
          }
        } else {
          assert.isTrue(Exit.isFailure(exit), `expected a failure for ${vector.name}`)
          const error = yield* Effect.flip(exit)
          assert.strictEqual(error._tag, "PktLineError")
          // Where Git names a protocol error, ours carries the same words.
          const protocolLine = vector.stderr.split("\n").find((l) => l.startsWith("error: protocol error"))
          if (protocolLine !== undefined) assert.strictEqual(`error: ${error.message}`, protocolLine)
          else assert.strictEqual((error as { reason: string }).reason, "UnexpectedEnd")
        }
      }))
  }
})
