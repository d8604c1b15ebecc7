/**
 * Hostile typed input, on both sides: JSON nested deeper than any schema
 * can decode gets a typed error, never a dropped connection or a crash, and
 * what a request sent is echoed back only as a short prefix.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as nodePath from "node:path"
import * as Client from "../../src/client/Client.ts"
import * as PktLine from "../../src/framing/PktLine.ts"
import * as Protocol from "../../src/typed/Protocol.ts"
import * as TypedClient from "../../src/typed/TypedClient.ts"
import * as TypedServer from "../../src/typed/TypedServer.ts"
import { bytes } from "../support/bytes.ts"
import { fakeServer } from "../support/raw.ts"
import { tempDir } from "../support/tempdir.ts"

type Nested = ReadonlyArray<Nested>
const Nested: Schema.Codec<Nested> = Schema.Array(Schema.suspend(() => Nested))

/** Arrays in arrays, `depth` deep, built without recursion. */
const nested = (depth: number): Nested => {
  let value: Nested = []
  for (let i = 1; i < depth; i++) value = [value]
  return value
}

const depthOf = (value: Nested): number => {
  let depth = 1
  for (let level = value; level.length > 0; level = level[0]!) depth++
  return depth
}

const Deep = Protocol.make(
  /** Answers how deep the request nests. */
  Protocol.command("depth", { payload: Nested, success: Schema.Int }),
  /** Answers arrays nested as deep as asked. */
  Protocol.command("build", { payload: Schema.Int, success: Nested }),
  Protocol.command("tally", { payload: Schema.Record(Schema.String, Schema.Number), success: Schema.Int })
)

const serve = Effect.gen(function*() {
  const path = nodePath.join(yield* tempDir, "typed.sock")
  yield* TypedServer.make(Deep, path, {
    depth: (value) => Effect.succeed(depthOf(value)),
    build: (depth) => Effect.succeed(nested(depth)),
    tally: (record) => Effect.succeed(Object.keys(record).length)
  })
  return path
})

/** The IpcError a raw request gets back. */
const errorReplyTo = (path: string, request: string) =>
  Effect.gen(function*() {
    const response = yield* Client.request(path, request)
    const error = yield* Effect.flip(Protocol.decodeResponse(Deep.get("depth")!, response))
    assert.instanceOf(error, Protocol.IpcError)
    return { error: error as Protocol.IpcError, responseBytes: response.length }
  })

describe("typed requests: bounded depth", () => {
  it.live("a request nested 10 000 deep gets IpcError InvalidRequest, and the server serves on", () =>
    Effect.gen(function*() {
      const path = yield* serve
      const depth = 10_000
      const { error } = yield* errorReplyTo(path, `depth ${"[".repeat(depth)}${"]".repeat(depth)}`)
      assert.strictEqual(error.reason, "InvalidRequest")
      assert.strictEqual(error.command, "depth")
      assert.include(error.detail, `nested more than ${Protocol.maxJsonDepth} deep`)

      const client = TypedClient.make(Deep, Client.make(path))
      assert.strictEqual(yield* client.depth(nested(3)), 3)
      // The limit itself is served.
      assert.strictEqual(yield* client.depth(nested(Protocol.maxJsonDepth)), Protocol.maxJsonDepth)
      const over = yield* errorReplyTo(path, `depth ${"[".repeat(Protocol.maxJsonDepth + 1)}${"]".repeat(Protocol.maxJsonDepth + 1)}`)
      assert.strictEqual(over.error.reason, "InvalidRequest")
    }), 30_000)

  it.live("brackets inside strings do not count as nesting", () =>
    Effect.gen(function*() {
      const path = yield* serve
      const client = TypedClient.make(Deep, Client.make(path))
      const key = "[{".repeat(10_000)
      assert.strictEqual(yield* client.tally({ [key]: 1, "\"[": 2 }), 2)
    }))

  it.live("a value too deep to encode is EncodeFailed on either side, never a crash", () =>
    Effect.gen(function*() {
      const path = yield* serve
      const client = TypedClient.make(Deep, Client.make(path))
      const mine = yield* Effect.flip(client.depth(nested(100_000)))
      assert.strictEqual((mine as Protocol.IpcError).reason, "EncodeFailed")
      assert.include((mine as Protocol.IpcError).detail, "nested too deeply to encode")
      const theirs = yield* Effect.flip(client.build(100_000))
      assert.strictEqual((theirs as Protocol.IpcError).reason, "EncodeFailed")
      assert.strictEqual(yield* client.depth(nested(2)), 2)
    }), 30_000)

  it.live("a response nested 10 000 deep from a hostile server is IpcError InvalidResponse", () =>
    Effect.gen(function*() {
      const path = nodePath.join(yield* tempDir, "hostile.sock")
      const depth = 10_000
      yield* fakeServer(path, PktLine.encodeMessageBytes(bytes(`${"[".repeat(depth)}${"]".repeat(depth)}`)))
      const client = TypedClient.make(Deep, Client.make(path))
      const error = yield* Effect.flip(client.build(3))
      assert.strictEqual((error as Protocol.IpcError).reason, "InvalidResponse")
      assert.include((error as Protocol.IpcError).detail, "nested too deeply")
    }))
})

describe("typed requests: what is echoed is short", () => {
  it.live("an unknown command name of 60 MiB comes back as its first 64 characters and its length", () =>
    Effect.gen(function*() {
      const path = yield* serve
      const length = 60 * 1024 * 1024
      const { error, responseBytes } = yield* errorReplyTo(path, "x".repeat(length))
      assert.strictEqual(error.reason, "UnknownCommand")
      assert.strictEqual(error.command, `${"x".repeat(64)}… (${length} characters)`)
      assert.isBelow(responseBytes, 1024)
    }), 60_000)

  it.live("a Schema issue quoting a huge key is cut short", () =>
    Effect.gen(function*() {
      const path = yield* serve
      const key = "k".repeat(1024 * 1024)
      const { error, responseBytes } = yield* errorReplyTo(path, `tally {"${key}":"not a number"}`)
      assert.strictEqual(error.reason, "InvalidRequest")
      assert.include(error.detail, "characters)")
      assert.isBelow(responseBytes, 2048)
    }))
})
