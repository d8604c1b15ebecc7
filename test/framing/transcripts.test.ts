import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as PktLine from "../../src/framing/PktLine.ts"
import { text } from "../support/bytes.ts"
import { transcript } from "../support/vectors.ts"

const packetsOf = (wire: Uint8Array) => Stream.runCollect(PktLine.decodePackets(Stream.make(wire)))
const messageOf = (wire: Uint8Array) => Effect.map(PktLine.readMessage(Stream.make(wire)), text)

const row = (i: number) => `big: ${String(i).padStart(75, "0")}\n`
const bigBody = Array.from({ length: 10000 }, (_, i) => row(i)).join("")

describe("Git's recorded transcripts decode", () => {
  it.effect("request halves decode to the commands the Git client sent", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* messageOf(transcript("ping").request), "ping")
      assert.strictEqual(yield* messageOf(transcript("big").request), "big")
      assert.strictEqual(yield* messageOf(transcript("chunk").request), "chunk")
      assert.strictEqual(yield* messageOf(transcript("no-command").request), "(no-command)")
      assert.strictEqual(yield* messageOf(transcript("unhandled-nosuchcommand").request), "nosuchcommand")
      assert.strictEqual(
        yield* messageOf(transcript("sendbytes-100000-A").request),
        "sendbytes " + "A".repeat(100000)
      )
    }))

  it.effect("ping answers pong", () =>
    Effect.map(messageOf(transcript("ping").response), (m) => assert.strictEqual(m, "pong")))

  it.effect("big is 10000 lines in 13 packets, ending with row 9999", () =>
    Effect.gen(function*() {
      const wire = transcript("big").response
      const packets = yield* packetsOf(wire)
      assert.strictEqual(packets.filter((p) => p._tag === "Data").length, 13)
      assert.strictEqual(packets.at(-1)!._tag, "Flush")
      const body = yield* messageOf(wire)
      assert.strictEqual(body, bigBody)
    }))

  it.effect("chunk is the same 10000 lines, one packet each", () =>
    Effect.gen(function*() {
      const wire = transcript("chunk").response
      const packets = yield* packetsOf(wire)
      const data = packets.filter((p) => p._tag === "Data")
      assert.strictEqual(data.length, 10000)
      assert.strictEqual(text((data[9999] as { payload: Uint8Array }).payload), row(9999))
      assert.strictEqual(yield* messageOf(wire), bigBody)
    }))

  it.effect("sendbytes of 100000 A's is acknowledged", () =>
    Effect.map(messageOf(transcript("sendbytes-100000-A").response), (m) => assert.strictEqual(m, "rcvd:A00100000\n")))

  it.effect("unknown commands are echoed back as unhandled", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* messageOf(transcript("unhandled-nosuchcommand").response), "unhandled command: nosuchcommand")
      assert.strictEqual(yield* messageOf(transcript("no-command").response), "unhandled command: (no-command)")
    }))

  it.effect("our encoder reproduces Git's request bytes exactly", () =>
    Effect.gen(function*() {
      for (const name of ["ping", "big", "chunk", "no-command", "unhandled-nosuchcommand", "sendbytes-100000-A"] as const) {
        const { request } = transcript(name)
        const message = yield* PktLine.readMessage(Stream.make(request))
        assert.deepStrictEqual(Buffer.from(PktLine.encodeMessageBytes(message)), Buffer.from(request), name)
      }
    }))
})
