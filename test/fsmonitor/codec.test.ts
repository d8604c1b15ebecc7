/**
 * The answer's encoding: any token and paths survive encoding, framing and
 * any cut into packets or reads; the encoder packs paths into as few
 * packets as fit; and the decoder refuses every malformed answer with the
 * fault named, never a list.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import fc from "fast-check"
import * as Fsmonitor from "../../src/fsmonitor/Fsmonitor.ts"
import * as PktLine from "../../src/framing/PktLine.ts"
import { rechunk, splitPoints } from "../support/bytes.ts"

/** A path a daemon may send: not empty, no NUL, relative, not the trivial marker. */
const path = fc.string({ unit: "binary", minLength: 1, maxLength: 40 }).filter((p) => !p.includes("\0") && !p.startsWith("/"))
const token = fc.string({ unit: "binary", minLength: 1, maxLength: 60 }).filter((t) => !t.includes("\0"))
const answer: fc.Arbitrary<Fsmonitor.Answer> = fc.oneof(
  token.map(Fsmonitor.trivial),
  fc.tuple(token, fc.array(path, { maxLength: 50 })).map(([t, paths]) => Fsmonitor.changed(t, paths))
)

/** The answer's payload cut into packets at `cuts`, framed, and read back in pieces cut at `reads`. */
const overTheWire = (payload: Uint8Array, cuts: ReadonlyArray<number>, reads: ReadonlyArray<number>) => {
  const packets = rechunk(payload, cuts).filter((p) => p.length > 0).flatMap(PktLine.frame)
  const wire = PktLine.concat([...packets, PktLine.flushBytes])
  return PktLine.readMessage(Stream.fromIterable(rechunk(wire, reads)))
}

const decode = (payload: Uint8Array) => Effect.runPromise(Fsmonitor.decodeAnswer("ipc", payload))

const failureOf = (payload: string | Uint8Array) =>
  Effect.runPromise(Effect.flip(Fsmonitor.decodeAnswer("ipc", typeof payload === "string" ? Buffer.from(payload, "utf8") : payload)))

describe("the answer's encoding", () => {
  it("any answer, cut into any packets and any reads, decodes to itself", async () => {
    await fc.assert(
      fc.asyncProperty(answer, splitPoints, splitPoints, async (original, cuts, reads) => {
        const payload = PktLine.concat(Fsmonitor.encodeAnswer(original))
        const received = await Effect.runPromise(overTheWire(payload, cuts, reads))
        assert.deepStrictEqual(await decode(received), original)
      }),
      { numRuns: 300 }
    )
  })

  it("the token goes alone, and paths are packed into as few packets as fit, in order", () => {
    fc.assert(
      fc.property(token, fc.array(fc.string({ unit: "grapheme-ascii", minLength: 1, maxLength: 3000 }), { maxLength: 120 }), (t, raw) => {
        const paths = raw.map((p) => p.replaceAll("\0", "x").replace(/^\/+/, "a"))
        const [first, ...chunks] = Fsmonitor.encodeAnswer(Fsmonitor.changed(t, paths))
        assert.strictEqual(Buffer.from(first!).toString("utf8"), `${t}\0`)
        for (const chunk of chunks) assert.isAtMost(chunk.length, PktLine.MAX_PAYLOAD_SIZE)
        // Greedy packing: no chunk had room for the next chunk's first path.
        for (let i = 0; i + 1 < chunks.length; i++) {
          const nextFirst = chunks[i + 1]!.indexOf(0) + 1
          assert.isAbove(chunks[i]!.length + nextFirst, PktLine.MAX_PAYLOAD_SIZE)
        }
        assert.strictEqual(Buffer.from(PktLine.concat(chunks)).toString("utf8"), paths.map((p) => `${p}\0`).join(""))
      }),
      { numRuns: 100 }
    )
  })

  it("a path longer than a packet gets a chunk of its own, which the framing splits", async () => {
    const long = "d/".repeat(40_000) + "f"
    const chunks = Fsmonitor.encodeAnswer(Fsmonitor.changed("t:1:2", ["a", long, "b"]))
    assert.deepStrictEqual(chunks.map((c) => c.length), [6, 2, long.length + 1, 2])
    const message = Fsmonitor.encodeAnswerMessage(Fsmonitor.changed("t:1:2", ["a", long, "b"]))
    const payload = await Effect.runPromise(PktLine.readMessage(Stream.succeed(message)))
    assert.deepStrictEqual(await decode(payload), Fsmonitor.changed("t:1:2", ["a", long, "b"]))
  })

  it("the trivial answer is the token, then / alone, each in a packet of its own", () => {
    const message = Fsmonitor.encodeAnswerMessage(Fsmonitor.trivial("builtin:0.1.2Z:7"))
    assert.strictEqual(Buffer.from(message).toString("latin1"), "0015builtin:0.1.2Z:7\x000006/\x000000")
  })
})

describe("strict decoding", () => {
  for (
    const [payload, reason] of [
      ["", "MissingToken"],
      ["\0", "MissingToken"],
      ["builtin:0.1.2Z:3", "MissingToken"],
      ["builtin:0.1.2Z:3\0a\0\0b\0", "EmptyPath"],
      ["builtin:0.1.2Z:3\0\0", "EmptyPath"],
      ["builtin:0.1.2Z:3\0a\0b", "UnterminatedPath"],
      ["builtin:0.1.2Z:3\0/\0a\0", "TrivialNotAlone"],
      ["builtin:0.1.2Z:3\0a\0/\0", "TrivialNotAlone"],
      ["builtin:0.1.2Z:3\0a\0/etc/passwd\0", "AbsolutePath"]
    ] as const
  ) {
    it(`${JSON.stringify(payload)} fails with ${reason}`, async () => {
      const failure = await failureOf(payload)
      assert.strictEqual(failure.reason, reason)
      assert.include(failure.message, "nothing of it was used")
    })
  }

  it("a path that is not UTF-8 fails with InvalidUtf8 rather than naming another file", async () => {
    const failure = await failureOf(Buffer.concat([Buffer.from("t:1:1\0ok\0"), Buffer.from([0x66, 0xff, 0]), Buffer.from("x\0")]))
    assert.strictEqual(failure.reason, "InvalidUtf8")
    assert.include(failure.message, "field 3")
  })

  it("paths keep their bytes: trailing slashes, spaces, non-ASCII", async () => {
    const result = await decode(Buffer.from("t:1:1\0dir/\0a b.txt\0ünï/cödé\0"))
    assert.deepStrictEqual(result, Fsmonitor.changed("t:1:1", ["dir/", "a b.txt", "ünï/cödé"]))
    assert.isTrue(Fsmonitor.isDirectory("dir/"))
    assert.isFalse(Fsmonitor.isDirectory("a b.txt"))
  })
})
