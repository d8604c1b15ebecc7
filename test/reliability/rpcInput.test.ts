/**
 * Hostile input to effect/rpc over Simple IPC, on both sides: JSON nested
 * deeper than any schema can decode is refused with a reason, never a
 * dropped connection or a crash, and what a request sent is echoed back
 * only as a short prefix.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Schema } from "effect"
import { Rpc, RpcClient, RpcClientError, RpcGroup, RpcServer } from "effect/rpc"
import * as nodePath from "node:path"
import * as Client from "../../src/client/Client.ts"
import * as PktLine from "../../src/framing/PktLine.ts"
import { maxJsonDepth } from "../../src/rpc/internal/json.ts"
import * as SimpleIpcRpc from "../../src/rpc/SimpleIpcRpc.ts"
import { bytes } from "../support/bytes.ts"
import { fakeServer } from "../support/raw.ts"
import { tempDir } from "../support/tempdir.ts"
import { defectOf } from "../rpc/fixtures.ts"

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

class Deep extends RpcGroup.make(
  /** Answers how deep the payload nests. */
  Rpc.make("Depth", { payload: { value: Nested }, success: Schema.Int }),
  /** Answers arrays nested as deep as asked. */
  Rpc.make("Build", { payload: { depth: Schema.Int }, success: Nested }),
  Rpc.make("Tally", { payload: { record: Schema.Record(Schema.String, Schema.Number) }, success: Schema.Int })
) {}

const serve = Effect.gen(function*() {
  const path = nodePath.join(yield* tempDir, "rpc.sock")
  yield* Layer.build(
    RpcServer.layer(Deep).pipe(
      Layer.provide(Deep.toLayer({
        Depth: ({ value }) => Effect.succeed(depthOf(value)),
        Build: ({ depth }) => Effect.succeed(nested(depth)),
        Tally: ({ record }) => Effect.succeed(Object.keys(record).length)
      })),
      Layer.provide(SimpleIpcRpc.layerProtocolServer(path))
    )
  )
  return path
})

const client = (path: string) =>
  RpcClient.make(Deep).pipe(Effect.provide(SimpleIpcRpc.layerProtocolClient(path, { group: Deep })))

const utf8 = new TextDecoder()

/** The `die` line a raw request gets back, its text decoded. */
const defectReplyTo = (path: string, request: string) =>
  Effect.gen(function*() {
    const response = utf8.decode(yield* Client.request(path, request))
    assert.match(response, /^die "/, `the answer to ${request.slice(0, 40)}…`)
    return { defect: JSON.parse(response.slice("die ".length)) as string, responseBytes: response.length }
  })

const brackets = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`

describe("RPC calls: bounded depth", () => {
  it.live("a payload nested 10 000 deep is refused with a reason, and the server serves on", () =>
    Effect.gen(function*() {
      const path = yield* serve
      const { defect } = yield* defectReplyTo(path, `Depth {"value":${brackets(10_000)}}`)
      assert.include(defect, "the payload of 'Depth'")
      assert.include(defect, `nested more than ${maxJsonDepth} deep`)

      const deep = yield* client(path)
      assert.strictEqual(yield* deep.Depth({ value: nested(3) }), 3)
      // The limit itself is served; one more level is refused, as a defect of that call.
      assert.strictEqual(yield* deep.Depth({ value: nested(maxJsonDepth - 1) }), maxJsonDepth - 1)
      const over = defectOf(yield* Effect.exit(deep.Depth({ value: nested(maxJsonDepth) })))
      assert.include(over, `nested more than ${maxJsonDepth} deep`)
      assert.strictEqual(yield* deep.Depth({ value: nested(2) }), 2)
    }), 30_000)

  it.live("brackets inside strings do not count as nesting", () =>
    Effect.gen(function*() {
      const path = yield* serve
      const deep = yield* client(path)
      const key = "[{".repeat(10_000)
      assert.strictEqual(yield* deep.Tally({ record: { [key]: 1, "\"[": 2 } }), 2)
    }))

  it.live("a value too deep to encode is a defect of its call on either side, never a crash", () =>
    Effect.gen(function*() {
      const path = yield* serve
      const deep = yield* client(path)
      const mine = yield* Effect.exit(deep.Depth({ value: nested(100_000) }))
      assert.isTrue(Exit.isFailure(mine) && Cause.hasDies(mine.cause))
      const theirs = yield* Effect.exit(deep.Build({ depth: 100_000 }))
      assert.isTrue(Exit.isFailure(theirs) && Cause.hasDies(theirs.cause))
      assert.strictEqual(yield* deep.Depth({ value: nested(2) }), 2)
    }), 30_000)

  it.live("a response nested 10 000 deep from a hostile server is an RpcClientError saying why", () =>
    Effect.gen(function*() {
      const path = nodePath.join(yield* tempDir, "hostile.sock")
      yield* fakeServer(path, PktLine.encodeMessageBytes(bytes(brackets(10_000))))
      const error = yield* Effect.flip((yield* client(path)).Build({ depth: 3 }))
      assert.instanceOf(error, RpcClientError.RpcClientError)
      assert.strictEqual((error as RpcClientError.RpcClientError).reason._tag, "RpcClientDefect")
      assert.include(error.message, "could not read the response to 'Build'")
      assert.include(error.message, `nested more than ${maxJsonDepth} deep`)
    }))
})

describe("RPC calls: what is echoed is short", () => {
  it.live("an unknown tag of 60 MiB comes back as a short prefix and its length", () =>
    Effect.gen(function*() {
      const path = yield* serve
      const length = 60 * 1024 * 1024
      const { defect, responseBytes } = yield* defectReplyTo(path, "x".repeat(length))
      assert.match(defect, /^Unknown request tag: x+… \(\d+ characters\)$/)
      assert.isBelow(responseBytes, 2048)
      assert.strictEqual(yield* (yield* client(path)).Depth({ value: nested(2) }), 2)
    }), 60_000)

  it.live("a Schema issue quoting a huge key is cut short", () =>
    Effect.gen(function*() {
      const path = yield* serve
      const key = "k".repeat(1024 * 1024)
      const { defect, responseBytes } = yield* defectReplyTo(path, `Tally {"record":{"${key}":"not a number"}}`)
      assert.include(defect, "characters)")
      assert.isBelow(responseBytes, 2048)
    }))
})
