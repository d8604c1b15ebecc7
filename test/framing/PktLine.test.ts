import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Stream } from "effect"
import fc from "fast-check"
import * as PktLine from "../../src/framing/PktLine.ts"
import { MessageCollector, PayloadDecoder } from "../../src/framing/internal/decoder.ts"
import { bytes, text, rechunk, splitPoints } from "../support/bytes.ts"

const decodeAll = (input: ReadonlyArray<Uint8Array>) =>
  Stream.runCollect(PktLine.decodePackets(Stream.fromIterable(input)))

const readMessage = (input: ReadonlyArray<Uint8Array>) => PktLine.readMessage(Stream.fromIterable(input))

const readText = (wire: string) => Effect.map(readMessage([bytes(wire)]), text)

const failureOf = <A>(effect: Effect.Effect<A, PktLine.PktLineError>) =>
  Effect.flatMap(Effect.exit(effect), (exit) =>
    Exit.isFailure(exit) ? Effect.flip(exit) : Effect.die(new Error(`expected a failure, got ${String(exit.value)}`)))

const encodeToBytes = (messages: ReadonlyArray<ReadonlyArray<Uint8Array>>) =>
  Effect.map(
    Stream.runCollect(
      Stream.fromIterable(messages).pipe(
        Stream.flatMap((chunks) => PktLine.encodeMessage(Stream.fromIterable(chunks)))
      )
    ),
    PktLine.concat
  )

describe("pkt-line framing facts", () => {
  it.effect("a data packet's length counts its 4 header bytes: ping is 0008ping", () =>
    Effect.gen(function*() {
      const wire = yield* encodeToBytes([[bytes("ping")]])
      assert.strictEqual(text(wire), "0008ping0000")
    }))

  it.effect("writers emit lowercase hex", () =>
    Effect.sync(() => {
      const framed = PktLine.concat(PktLine.frame(new Uint8Array(0xfa - 4)))
      assert.strictEqual(text(framed.subarray(0, 4)), "00fa")
    }))

  it.effect("readers accept upper-case hex", () =>
    Effect.map(readText("000Cpingpong0000"), (message) => assert.strictEqual(message, "pingpong")))

  it.effect("readers accept lower-case hex", () =>
    Effect.map(readText("000cpingpong0000"), (message) => assert.strictEqual(message, "pingpong")))

  it.effect("fff0, the largest packet, is accepted", () =>
    Effect.gen(function*() {
      const payload = "q".repeat(PktLine.MAX_PAYLOAD_SIZE)
      const message = yield* readText(`fff0${payload}0000`)
      assert.strictEqual(message.length, 65516)
    }))

  it.effect("fff1 is rejected as too long, reported by its payload length as Git does", () =>
    Effect.gen(function*() {
      const error = yield* failureOf(readMessage([bytes("fff1")]))
      assert.strictEqual(error.reason, "BadLength")
      assert.strictEqual(error.length, 65517)
      assert.strictEqual(error.message, "protocol error: bad line length 65517")
    }))

  it.effect("0003 is rejected", () =>
    Effect.gen(function*() {
      const error = yield* failureOf(readMessage([bytes("0003")]))
      assert.strictEqual(error.reason, "BadLength")
      assert.strictEqual(error.message, "protocol error: bad line length 3")
    }))

  it.effect("a non-hex character in the header is rejected", () =>
    Effect.gen(function*() {
      const error = yield* failureOf(readMessage([bytes("zzzzping0000")]))
      assert.strictEqual(error.reason, "BadLengthCharacter")
      assert.strictEqual(error.message, "protocol error: bad line length character: zzzz")
    }))

  it.effect("0000, 0001 and 0002 decode to flush, delimiter and response-end", () =>
    Effect.gen(function*() {
      const packets = yield* decodeAll([bytes("000000010002")])
      assert.deepStrictEqual(packets.map((p) => p._tag), ["Flush", "Delimiter", "ResponseEnd"])
    }))

  it.effect("a message longer than 65516 bytes is split into full packets and a shorter last one", () =>
    Effect.gen(function*() {
      const message = new Uint8Array(65516 * 2 + 10).fill(0x61)
      const wire = yield* encodeToBytes([[message]])
      const packets = yield* decodeAll([wire])
      assert.deepStrictEqual(
        packets.map((p) => p._tag === "Data" ? p.payload.length : p._tag),
        [65516, 65516, 10, "Flush"]
      )
      assert.strictEqual(text(wire.subarray(0, 4)), "fff0")
    }))

  it.effect("a zero-length chunk writes nothing", () =>
    Effect.gen(function*() {
      assert.strictEqual(PktLine.frame(new Uint8Array(0)).length, 0)
      const wire = yield* encodeToBytes([[new Uint8Array(0), bytes("a"), new Uint8Array(0)]])
      assert.strictEqual(text(wire), "0005a0000")
    }))

  it.effect("a flush ends a message", () => Effect.map(readText("0008ping0000"), (m) => assert.strictEqual(m, "ping")))

  it.effect("a delimiter ends a message", () =>
    Effect.map(readText("0008ping0001"), (m) => assert.strictEqual(m, "ping")))

  it.effect("a response-end packet ends a message", () =>
    Effect.map(readText("0008ping0002"), (m) => assert.strictEqual(m, "ping")))

  it.effect("an empty data packet 0004 ends a message", () =>
    Effect.map(readText("0008ping0004"), (m) => assert.strictEqual(m, "ping")))

  it.effect("a message may be empty: a bare flush", () => Effect.map(readText("0000"), (m) => assert.strictEqual(m, "")))

  it.effect("payloads of several packets are appended into one message", () =>
    Effect.map(readText("0006pi0006ng0000"), (m) => assert.strictEqual(m, "ping")))

  it.effect("bytes after the terminating flush are ignored, even malformed ones", () =>
    Effect.map(readText("0008ping0000garbage"), (m) => assert.strictEqual(m, "ping")))

  it.effect("end of input in the middle of a header is an error", () =>
    Effect.gen(function*() {
      const error = yield* failureOf(readMessage([bytes("0008ping00")]))
      assert.strictEqual(error.reason, "UnexpectedEnd")
      assert.strictEqual(error.within, "header")
    }))

  it.effect("end of input in the middle of a payload is an error", () =>
    Effect.gen(function*() {
      const error = yield* failureOf(readMessage([bytes("0008pi")]))
      assert.strictEqual(error.reason, "UnexpectedEnd")
      assert.strictEqual(error.within, "payload")
    }))

  it.effect("end of input between packets, before the flush, is an error, not a short message", () =>
    Effect.gen(function*() {
      const error = yield* failureOf(readMessage([bytes("0008ping")]))
      assert.strictEqual(error.reason, "UnexpectedEnd")
      assert.strictEqual(error.within, "message")
    }))

  it.effect("empty input is an incomplete message", () =>
    Effect.gen(function*() {
      const error = yield* failureOf(readMessage([]))
      assert.strictEqual(error.reason, "UnexpectedEnd")
    }))

  it.effect("the packet stream may end cleanly between packets", () =>
    Effect.map(decodeAll([bytes("0008ping")]), (packets) => assert.strictEqual(packets.length, 1)))

  it.effect("packets decoded before a malformed header are delivered before the error", () =>
    Effect.gen(function*() {
      const seen: Array<string> = []
      const exit = yield* PktLine.decodePackets(Stream.make(bytes("0008pingzzzz"))).pipe(
        Stream.runForEach((p) => Effect.sync(() => seen.push(p._tag))),
        Effect.exit
      )
      assert.deepStrictEqual(seen, ["Data"])
      assert.isTrue(Exit.isFailure(exit))
    }))

  it.effect("a packet inside one input piece is a view of it, not a copy", () =>
    Effect.gen(function*() {
      const input = bytes("0008ping0000")
      const [first] = yield* decodeAll([input])
      assert.strictEqual(first!._tag, "Data")
      if (first!._tag === "Data") assert.strictEqual(first!.payload.buffer, input.buffer)
    }))

  it.effect("a large message payload split across input pieces is passed on as views of them, not assembled", () =>
    Effect.gen(function*() {
      const wire = PktLine.encodeMessageBytes(new Uint8Array(3000).fill(0x61))
      const first = wire.slice(0, 1504)
      const second = wire.slice(1504)
      const chunks = yield* Stream.runCollect(PktLine.decodeMessage(Stream.make(first, second)))
      assert.deepStrictEqual(chunks.map((c) => c.length), [1500, 1500])
      assert.strictEqual(chunks[0]!.buffer, first.buffer)
      assert.strictEqual(chunks[1]!.buffer, second.buffer)
      // The packet decoder, by contrast, delivers the packet whole.
      const packets = yield* decodeAll([first, second])
      assert.strictEqual(packets.length, 2)
      assert.strictEqual((packets[0] as { payload: Uint8Array }).payload.length, 3000)
    }))

  it.effect("small payloads of one input piece come out as one chunk, copied, and the input is left as it was", () =>
    Effect.gen(function*() {
      const first = bytes("0005p0005i0006ng00")
      const second = bytes("0dpong pong0000")
      const chunks = yield* Stream.runCollect(PktLine.decodeMessage(Stream.make(first, second)))
      assert.deepStrictEqual(chunks.map(text), ["ping", "pong pong"])
      assert.notStrictEqual(chunks[0]!.buffer, first.buffer)
      assert.strictEqual(text(first), "0005p0005i0006ng00")
    }))

  it.effect("in place, the payloads of a piece are joined over its headers into one view of it", () =>
    Effect.sync(() => {
      const decoder = new PayloadDecoder({ inPlace: true })
      const piece = bytes("0005p0005i0006ng00")
      const out: Array<Uint8Array> = []
      assert.strictEqual(decoder.push(piece, out), "input")
      assert.deepStrictEqual(out.map(text), ["ping"])
      assert.strictEqual(out[0]!.buffer, piece.buffer)
      // A payload of 1 KiB or more is not moved: it starts a view of its own.
      const large = PktLine.encodeMessageBytes(new Uint8Array(2000).fill(0x62))
      const next = PktLine.concat([bytes("07--p"), large])
      assert.strictEqual(decoder.push(next, out), "end")
      assert.deepStrictEqual(out.map((c) => c.length), [4, 3, 2000])
      assert.strictEqual(text(out[1]!), "--p")
    }))

  it.effect("encodeMessageChunks frames a large message without copying it, a small one as one buffer", () =>
    Effect.gen(function*() {
      assert.strictEqual(PktLine.encodeMessageChunks(bytes("ping")).length, 1)
      const large = new Uint8Array(100_000).fill(7)
      const chunks = PktLine.encodeMessageChunks(large)
      assert.isTrue(chunks.some((c) => c.buffer === large.buffer))
      assert.deepStrictEqual(PktLine.concat(chunks), PktLine.encodeMessageBytes(large))
    }))

  it.effect("the message decoder stops reading its input at the end of the message", () =>
    Effect.gen(function*() {
      let pulled = 0
      const input = Stream.fromIterable([bytes("0008ping"), bytes("0000"), bytes("0008more")]).pipe(
        Stream.tap(() => Effect.sync(() => pulled++))
      )
      const message = yield* PktLine.readMessage(Stream.rechunk(input, 1))
      assert.strictEqual(text(message), "ping")
      assert.strictEqual(pulled, 2)
    }))

  it.effect("encodePackets writes each packet kind", () =>
    Effect.gen(function*() {
      const wire = yield* Stream.runCollect(PktLine.encodePackets(Stream.make(
        PktLine.data(bytes("ab")),
        PktLine.delimiter,
        PktLine.data(new Uint8Array(0)),
        PktLine.responseEnd,
        PktLine.flush
      )))
      assert.strictEqual(text(PktLine.concat(wire)), "0006ab000100020000")
    }))

  it.effect("encodeMessageBytes gives the same bytes as the streaming encoder", () =>
    Effect.gen(function*() {
      const message = new Uint8Array(200_000).map((_, i) => i & 255)
      const streamed = yield* encodeToBytes([[message]])
      assert.deepStrictEqual(PktLine.encodeMessageBytes(message), streamed)
    }))
})

describe("pkt-line properties", () => {
  const message = fc.array(fc.uint8Array({ maxLength: 70_000 }), { maxLength: 4 })
  const smallMessage = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 6 })

  it("decoding re-chunked encoded messages gives back the messages", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(smallMessage, message), { minLength: 1, maxLength: 4 }), splitPoints, async (messages, cuts) => {
        const wire = await Effect.runPromise(encodeToBytes(messages))
        const packets = await Effect.runPromise(decodeAll(rechunk(wire, cuts)))
        // Rebuild the messages from the packets: payloads up to each flush.
        const decoded: Array<Uint8Array> = []
        let current: Array<Uint8Array> = []
        for (const packet of packets) {
          if (packet._tag === "Data") current.push(packet.payload)
          else {
            decoded.push(PktLine.concat(current))
            current = []
          }
        }
        assert.strictEqual(current.length, 0)
        assert.deepStrictEqual(decoded.map((m) => Buffer.from(m)), messages.map((m) => Buffer.from(PktLine.concat(m))))
      }),
      { numRuns: 150 }
    )
  })

  it("readMessage over any re-chunking gives the first message and ignores what follows", async () => {
    await fc.assert(
      fc.asyncProperty(smallMessage, fc.uint8Array({ maxLength: 50 }), splitPoints, async (chunks, trailing, cuts) => {
        const wire = PktLine.concat([await Effect.runPromise(encodeToBytes([chunks])), trailing])
        const decoded = await Effect.runPromise(readMessage(rechunk(wire, cuts)))
        assert.deepStrictEqual(Buffer.from(decoded), Buffer.from(PktLine.concat(chunks)))
      }),
      { numRuns: 300 }
    )
  })

  it("every packet written is at most 65520 bytes and no data packet is empty", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 200_000 }), { maxLength: 5 }), async (chunks) => {
        const wire = await Effect.runPromise(encodeToBytes([chunks]))
        let at = 0
        let sawFlush = false
        while (at < wire.length) {
          const length = parseInt(text(wire.subarray(at, at + 4)), 16)
          assert.isAtMost(length, PktLine.MAX_PACKET_SIZE)
          if (length === 0) {
            sawFlush = true
            at += 4
            continue
          }
          assert.isAtLeast(length, 5)
          at += length
        }
        assert.strictEqual(at, wire.length)
        assert.isTrue(sawFlush)
      }),
      { numRuns: 100 }
    )
  })

  it("decoding arbitrary bytes gives packets or a typed error, never a defect, whatever pieces they come in", async () => {
    const hexish = fc.uint8Array({ maxLength: 200 }).map((b) => b.map((x) => "0123456789abcdefABCDEFzg"[x % 24]!.charCodeAt(0)))
    // What a decode came to, comparable across ways of cutting the input.
    const outcome = async (effect: Effect.Effect<unknown, PktLine.PktLineError>) => {
      const exit = await Effect.runPromise(Effect.exit(effect))
      if (Exit.isSuccess(exit)) {
        const value = exit.value
        return Array.isArray(value)
          ? value.map((p: PktLine.Packet) => p._tag === "Data" ? `data:${text(p.payload)}` : p._tag)
          : `message:${text(value as Uint8Array)}`
      }
      const error = await Effect.runPromise(Effect.flip(exit))
      assert.instanceOf(error, PktLine.PktLineError)
      return `error:${error.message}`
    }
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 200 }), hexish), splitPoints, async (input, cuts) => {
        const pieces = rechunk(input, cuts)
        assert.deepStrictEqual(await outcome(decodeAll(pieces)), await outcome(decodeAll([input])))
        assert.deepStrictEqual(await outcome(readMessage(pieces)), await outcome(readMessage([input])))
      }),
      { numRuns: 500 }
    )
  })
})

describe("reading messages whatever their packet sizes", () => {
  // Sizes on both sides of every threshold: tiny packets (the costly
  // shape), around 1 KiB (copied below it, viewed above), and any size up
  // to the largest packet.
  const payloadSize = fc.oneof(
    { weight: 6, arbitrary: fc.integer({ min: 1, max: 8 }) },
    { weight: 2, arbitrary: fc.integer({ min: 1000, max: 1050 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: PktLine.MAX_PAYLOAD_SIZE }) }
  )
  /** Payloads of the given sizes, each a packet of its own, with distinct bytes. */
  const payloadsOf = (sizes: ReadonlyArray<number>, seed: number) =>
    sizes.map((n, k) => new Uint8Array(n).map((_, i) => (seed + 31 * k + 7 * i) & 255))
  const terminator = fc.constantFrom("0000", "0001", "0002", "0004")
  /** The wire bytes of a message sent as exactly these packets, then what follows it. */
  const wireOf = (payloads: ReadonlyArray<Uint8Array>, end: string, trailing: Uint8Array) =>
    PktLine.concat([...payloads.flatMap(PktLine.frame), bytes(end), trailing])
  // Any cuts, or pieces of one size (down to a byte: headers split every way).
  const splitting = fc.oneof(
    splitPoints.map((cuts) => (wire: Uint8Array) => rechunk(wire, cuts)),
    fc.integer({ min: 1, max: 4096 }).map((size) => (wire: Uint8Array) => {
      const pieces: Array<Uint8Array> = []
      for (let at = 0; at < wire.length; at += size) pieces.push(wire.subarray(at, at + size))
      return pieces
    })
  )
  const message = fc.record({
    sizes: fc.array(payloadSize, { maxLength: 40 }),
    seed: fc.nat(255),
    end: terminator,
    trailing: fc.uint8Array({ maxLength: 20 }),
    split: splitting
  })

  /** What a collector makes of the pieces: the message, an error, or undefined if it wants more. */
  const collect = (pieces: ReadonlyArray<Uint8Array>, options?: PktLine.CollectOptions) => {
    const collector = new MessageCollector(options)
    for (const piece of pieces) {
      const result = collector.push(piece)
      if (result !== undefined) return result
    }
    return collector.end()
  }

  /** What a payload decoder makes of the pieces: the payloads joined, and how many chunks. */
  const decodePayloads = (pieces: ReadonlyArray<Uint8Array>, inPlace: boolean) => {
    const decoder = new PayloadDecoder({ inPlace })
    const out: Array<Uint8Array> = []
    for (const piece of pieces) {
      const result = decoder.push(piece, out)
      if (result === "end") return PktLine.concat(out)
      assert.strictEqual(result, "input")
    }
    throw new Error("the message did not end")
  }

  it("any packet sizes and any split give Buffer.concat of the payloads, collected or streamed", () => {
    fc.assert(
      fc.property(message, ({ end, seed, sizes, split, trailing }) => {
        const payloads = payloadsOf(sizes, seed)
        const expected = Buffer.concat(payloads)
        const wire = wireOf(payloads, end, trailing)
        const pieces = split(wire)
        const collected = collect(pieces)
        assert.instanceOf(collected, Uint8Array)
        assert.deepStrictEqual(Buffer.from(collected as Uint8Array), expected)
        // Copying, the decoder leaves its input as it was.
        const original = Buffer.from(wire)
        assert.deepStrictEqual(Buffer.from(decodePayloads(pieces, false)), expected)
        assert.deepStrictEqual(Buffer.from(wire), original)
        // In place, it may rewrite pieces of its own.
        assert.deepStrictEqual(Buffer.from(decodePayloads(pieces.map((p) => p.slice()), true)), expected)
      }),
      { numRuns: 300 }
    )
  })

  it("maxBytes counts payload bytes only: a message at the limit is whole, one byte over fails, whatever the packets", () => {
    fc.assert(
      fc.property(message, fc.integer({ min: -2, max: 2 }), ({ end, seed, sizes, split, trailing }, offset) => {
        const payloads = payloadsOf(sizes, seed)
        const total = payloads.reduce((n, p) => n + p.length, 0)
        const limit = Math.max(0, total + offset)
        const result = collect(split(wireOf(payloads, end, trailing)), { maxBytes: limit })
        if (total <= limit) {
          assert.instanceOf(result, Uint8Array)
          assert.strictEqual((result as Uint8Array).length, total)
        } else {
          assert.instanceOf(result, PktLine.PktLineError)
          assert.strictEqual((result as PktLine.PktLineError).reason, "MessageTooLarge")
          assert.strictEqual((result as PktLine.PktLineError).limit, limit)
        }
      }),
      { numRuns: 300 }
    )
  })

  it("a message that is one payload within one piece is that piece's bytes, not a copy", () => {
    for (const size of [4, 2000]) {
      const piece = wireOf(payloadsOf([size], 1), "0000", new Uint8Array(0))
      const message = collect([piece]) as Uint8Array
      assert.strictEqual(message.length, size)
      assert.strictEqual(message.buffer, piece.buffer)
    }
  })

  it("a piece of tiny packets is one chunk, however many packets it holds", () => {
    const payloads = payloadsOf(Array.from({ length: 5000 }, () => 1), 3)
    const piece = wireOf(payloads, "0000", new Uint8Array(0))
    for (const inPlace of [false, true]) {
      const out: Array<Uint8Array> = []
      assert.strictEqual(new PayloadDecoder({ inPlace }).push(piece.slice(), out), "end")
      // In place, the piece is the one chunk; copies fill blocks that double
      // from 256 bytes, a chunk each: a handful, not one per packet.
      assert.isAtMost(out.length, inPlace ? 1 : 6)
      assert.deepStrictEqual(Buffer.from(PktLine.concat(out)), Buffer.concat(payloads))
    }
  })
})
