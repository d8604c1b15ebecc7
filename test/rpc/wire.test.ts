/**
 * The wire's text, both directions, without a socket: what is encoded is
 * decoded back, however the bytes are cut, and what cannot be read says why.
 */
import { assert, describe, it } from "@effect/vitest"
import fc from "fast-check"
import * as Wire from "../../src/rpc/internal/wire.ts"
import { rechunk, splitPoints } from "../support/bytes.ts"

const utf8 = (text: string) => new TextEncoder().encode(text)

/** Reads `pieces` as a response, each piece as it arrives. */
const readAll = (pieces: ReadonlyArray<Uint8Array>) => {
  const reader = new Wire.ResponseReader()
  const items: Array<unknown> = []
  for (const piece of pieces) {
    const read = reader.push(piece)
    if (!Array.isArray(read)) return read
    items.push(...read)
  }
  return { items, exit: reader.end() }
}

const json = fc.jsonValue().map((value) => JSON.parse(JSON.stringify(value)) as unknown)

describe("requests", () => {
  it("a request is decoded into the call it encodes: tag, payload, headers, span", () => {
    fc.assert(fc.property(
      fc.stringMatching(/^[A-Za-z][\w./-]{0,20}$/),
      json,
      fc.array(fc.tuple(fc.string(), fc.string()), { maxLength: 3 }),
      fc.option(fc.tuple(fc.stringMatching(/^[0-9a-f]{1,32}$/), fc.stringMatching(/^[0-9a-f]{1,16}$/), fc.boolean()), { nil: undefined }),
      (tag, payload, headers, span) => {
        const request = {
          _tag: "Request" as const,
          id: 0,
          tag,
          payload,
          headers,
          ...(span === undefined ? {} : { traceId: span[0], spanId: span[1], sampled: span[2] })
        }
        assert.deepStrictEqual(Wire.decodeRequest(utf8(Wire.encodeRequest(request)), 0), request)
      }
    ))
  })

  it("what cannot be read says why", () => {
    assert.strictEqual(Wire.decodeRequest(new Uint8Array([0x41, 0xff]), 0), "the request is not UTF-8 text")
    assert.match(Wire.decodeRequest(utf8("@headers nope\nAdd"), 0) as string, /^the headers line: not valid JSON/)
    assert.match(Wire.decodeRequest(utf8("@span a b\nAdd"), 0) as string, /^the span line is not/)
    assert.match(Wire.decodeRequest(utf8("@headers []"), 0) as string, /no call after it/)
    const deep = `Add ${"[".repeat(600)}${"]".repeat(600)}`
    assert.strictEqual(Wire.decodeRequest(utf8(deep), 0), "the payload of 'Add' is JSON nested more than 512 deep")
  })

  it("an `@` line of a later version is skipped", () => {
    assert.deepStrictEqual(Wire.decodeRequest(utf8("@deadline 5\nPing"), 3), {
      _tag: "Request",
      id: 3,
      tag: "Ping",
      payload: null,
      headers: []
    })
  })
})

describe("responses", () => {
  it("items and exit read back the same, however the bytes are cut (a character split across pieces too)", () => {
    fc.assert(fc.property(
      fc.array(fc.array(json, { minLength: 1, maxLength: 3 }), { maxLength: 4 }),
      fc.oneof(
        json.map((value) => ({ _tag: "Success" as const, value })),
        json.map((error) => ({ _tag: "Failure" as const, cause: [{ _tag: "Fail" as const, error }] })),
        json.map((defect) => ({ _tag: "Failure" as const, cause: [{ _tag: "Die" as const, defect }] })),
        fc.constant({ _tag: "Failure" as const, cause: [{ _tag: "Interrupt" as const, fiberId: 7 }] })
      ),
      splitPoints,
      (chunks, exit, cuts) => {
        const text = chunks.map(Wire.encodeChunk).join("") + Wire.encodeExit(exit)
        const read = readAll(rechunk(utf8(text), cuts))
        assert.deepStrictEqual(read, {
          items: chunks.flat(),
          // `null` travels as nothing, and comes back `null`.
          exit: exit._tag === "Success" && exit.value === null ? { _tag: "Success", value: null } : exit
        })
      }
    ))
  })

  it("a whole response reads the same as one in pieces", () => {
    const reader = new Wire.ResponseReader()
    assert.deepStrictEqual(reader.push(utf8("1\n\"é\"\n"), true), [1, "é"])
    assert.deepStrictEqual(reader.end(), { _tag: "Success", value: null })
  })

  it("what cannot be read says why", () => {
    assert.deepStrictEqual(readAll([utf8("{\n")]), { problem: "an item of the response is not valid JSON (Expected property name or '}' in JSON at position 1 (line 1 column 2)): {" })
    const reader = new Wire.ResponseReader()
    reader.push(utf8("fail {"))
    assert.match((reader.end() as { problem: string }).problem, /^its 'fail' line is not valid JSON/)
    const notList = new Wire.ResponseReader()
    notList.push(utf8("cause {}"))
    assert.match((notList.end() as { problem: string }).problem, /^its 'cause' line is not a list/)
  })
})
