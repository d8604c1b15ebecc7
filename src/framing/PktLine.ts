/**
 * pkt-line framing: Git's packet format, as pure functions and as Stream
 * transformations.
 *
 * A data packet is a four-digit hexadecimal length (counting the header
 * itself) followed by the payload. Lengths `0000`, `0001` and `0002` are the
 * special flush, delimiter and response-end packets. A *message* is the
 * concatenation of data payloads up to the first packet whose payload is
 * empty or absent (flush, delimiter, response-end, or an empty `0004`).
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Pull from "effect/Pull"
import * as Data from "effect/Data"
import * as Stream from "effect/Stream"
import { MessageCollector, PacketDecoder, PayloadDecoder } from "./internal/decoder.ts"
import type * as Arr from "effect/Array"

/**
 * The largest packet on the wire, header included (`fff0`).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_PACKET_SIZE = 65520

/**
 * The largest payload one data packet carries.
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_PAYLOAD_SIZE = MAX_PACKET_SIZE - 4

/**
 * A decoded packet.
 *
 * @since 0.1.0
 * @category models
 */
export type Packet =
  | { readonly _tag: "Data"; readonly payload: Uint8Array }
  | { readonly _tag: "Flush" }
  | { readonly _tag: "Delimiter" }
  | { readonly _tag: "ResponseEnd" }

/**
 * A data packet carrying `payload` (at most 65516 bytes; {@link frame}
 * splits longer chunks).
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
 * import { PktLine } from "effect-simple-ipc"
 *
 * // 0008ping 0000
 * const wire = Stream.make(PktLine.data(new TextEncoder().encode("ping")), PktLine.flush).pipe(PktLine.encodePackets)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const data = (payload: Uint8Array): Packet => ({ _tag: "Data", payload })

/**
 * The flush packet `0000`: the end of a message.
 *
 * @example
 * ```ts
 * import { PktLine } from "effect-simple-ipc"
 *
 * const bytes = PktLine.encodePacket(PktLine.flush) // "0000"
 * const ends = PktLine.endsMessage(PktLine.flush) // true
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const flush: Packet = Object.freeze({ _tag: "Flush" })

/**
 * The delimiter packet `0001`; a reader of a Simple IPC message takes it as the message's end.
 *
 * @example
 * ```ts
 * import { PktLine } from "effect-simple-ipc"
 *
 * const bytes = PktLine.encodePacket(PktLine.delimiter) // "0001"
 * const ends = PktLine.endsMessage(PktLine.delimiter) // true
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const delimiter: Packet = Object.freeze({ _tag: "Delimiter" })

/**
 * The response-end packet `0002`; a reader of a Simple IPC message takes it as the message's end.
 *
 * @example
 * ```ts
 * import { PktLine } from "effect-simple-ipc"
 *
 * const bytes = PktLine.encodePacket(PktLine.responseEnd) // "0002"
 * const ends = PktLine.endsMessage(PktLine.responseEnd) // true
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const responseEnd: Packet = Object.freeze({ _tag: "ResponseEnd" })

/**
 * Whether a packet ends a message: every packet that carries no payload does.
 *
 * @since 0.1.0
 * @category predicates
 */
export const endsMessage = (packet: Packet): boolean =>
  packet._tag !== "Data" || packet.payload.length === 0

/**
 * The ways a pkt-line stream can be malformed.
 *
 * - `BadLengthCharacter`: a header byte is not a hexadecimal digit.
 * - `BadLength`: length `0003`, or a length above `fff0`.
 * - `UnexpectedEnd`: the input ended inside a header, inside a payload, or
 *   before the packet that ends the message.
 * - `MessageTooLarge`: a message grew past the size its reader accepts.
 *
 * @since 0.1.0
 * @category errors
 */
export class PktLineError extends Data.TaggedError("PktLineError")<{
  readonly reason: "BadLengthCharacter" | "BadLength" | "UnexpectedEnd" | "MessageTooLarge"
  /** The four header characters, for `BadLengthCharacter`. */
  readonly header?: string | undefined
  /** The offending length, as Git reports it, for `BadLength`. */
  readonly length?: number | undefined
  /** Where the input ended, for `UnexpectedEnd`. */
  readonly within?: "header" | "payload" | "message" | undefined
  /** The size limit that was exceeded, for `MessageTooLarge`. */
  readonly limit?: number | undefined
}> {
  /**
   * The wording follows Git's own messages so that scripts matching on them
   * keep working.
   */
  override get message(): string {
    switch (this.reason) {
      case "BadLengthCharacter":
        return `protocol error: bad line length character: ${this.header}`
      case "BadLength":
        return `protocol error: bad line length ${this.length}`
      case "UnexpectedEnd":
        return `the remote end hung up unexpectedly (input ended inside a ${this.within ?? "message"})`
      case "MessageTooLarge":
        return `message exceeds the limit of ${this.limit} payload bytes set for it`
    }
  }
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

const HEX = "0123456789abcdef"
const EMPTY = new Uint8Array(0)

const FLUSH_BYTES = new Uint8Array([48, 48, 48, 48])
const DELIMITER_BYTES = new Uint8Array([48, 48, 48, 49])
const RESPONSE_END_BYTES = new Uint8Array([48, 48, 48, 50])

/**
 * The bytes of a flush packet, `0000`.
 *
 * @since 0.1.0
 * @category constants
 */
export const flushBytes: Uint8Array = FLUSH_BYTES

const writeHeader = (target: Uint8Array, offset: number, length: number): void => {
  target[offset] = HEX.charCodeAt((length >>> 12) & 15)
  target[offset + 1] = HEX.charCodeAt((length >>> 8) & 15)
  target[offset + 2] = HEX.charCodeAt((length >>> 4) & 15)
  target[offset + 3] = HEX.charCodeAt(length & 15)
}

/**
 * Below this size a payload is copied next to its header so that the packet
 * is one buffer (one write); above it, copying costs more than a second
 * buffer does, so the header stands alone and the payload is passed on as a
 * view of the caller's bytes.
 */
const COPY_THRESHOLD = 8192

/**
 * Frames one chunk of a message as data packets of at most
 * {@link MAX_PAYLOAD_SIZE} payload bytes each. The returned buffers,
 * concatenated, are the packets; an empty chunk frames to nothing, because
 * an empty data packet would end the message early.
 *
 * @since 0.1.0
 * @category encoding
 */
export const frame = (chunk: Uint8Array): Array<Uint8Array> => {
  const out: Array<Uint8Array> = []
  for (let offset = 0; offset < chunk.length; offset += MAX_PAYLOAD_SIZE) {
    const size = Math.min(MAX_PAYLOAD_SIZE, chunk.length - offset)
    // A chunk that fits one packet (the usual case) needs no view of itself.
    const payload = size === chunk.length ? chunk : chunk.subarray(offset, offset + size)
    if (size <= COPY_THRESHOLD) {
      const packet = Buffer.allocUnsafe(size + 4)
      writeHeader(packet, 0, size + 4)
      packet.set(payload, 4)
      out.push(packet)
    } else {
      const header = Buffer.allocUnsafe(4)
      writeHeader(header, 0, size + 4)
      out.push(header, payload)
    }
  }
  return out
}

/**
 * Encodes one packet as bytes. A data packet longer than the maximum is
 * split into several, as {@link frame} does.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodePacket = (packet: Packet): Array<Uint8Array> => {
  switch (packet._tag) {
    case "Data":
      return frame(packet.payload)
    case "Flush":
      return [FLUSH_BYTES]
    case "Delimiter":
      return [DELIMITER_BYTES]
    case "ResponseEnd":
      return [RESPONSE_END_BYTES]
  }
}

/**
 * Encodes a stream of packets as a stream of bytes.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodePackets = <E, R>(self: Stream.Stream<Packet, E, R>): Stream.Stream<Uint8Array, E, R> =>
  Stream.flattenIterable(Stream.map(self, encodePacket))

/**
 * Encodes a message given as a stream of chunks: each chunk becomes one or
 * more data packets, and a flush follows the last one.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeMessage = <E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E, R> =>
  Stream.concat(Stream.flattenIterable(Stream.map(self, frame)), Stream.succeed(FLUSH_BYTES))

/**
 * Encodes a whole message held in memory, flush included, as one buffer.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeMessageBytes = (message: Uint8Array): Uint8Array => {
  const packets = Math.ceil(message.length / MAX_PAYLOAD_SIZE)
  const out = Buffer.allocUnsafe(message.length + packets * 4 + 4)
  let at = 0
  for (let offset = 0; offset < message.length; offset += MAX_PAYLOAD_SIZE) {
    const size = Math.min(MAX_PAYLOAD_SIZE, message.length - offset)
    writeHeader(out, at, size + 4)
    out.set(message.subarray(offset, offset + size), at + 4)
    at += size + 4
  }
  out.set(FLUSH_BYTES, at)
  return out
}

/**
 * Encodes a whole message held in memory, flush included, as buffers to
 * write in order: one buffer for a small message; for a large one, headers
 * and views of the message itself, so that its bytes are never copied.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeMessageChunks = (message: Uint8Array): Array<Uint8Array> =>
  message.length <= COPY_THRESHOLD ? [encodeMessageBytes(message)] : [...frame(message), FLUSH_BYTES]

// ---------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------

/** How a Stream decoder decodes each input piece. */
interface PieceDecoder<A> {
  /** Decodes `piece` into `out`: `"input"` for more, `"end"` to stop reading, or an error. */
  push(piece: Uint8Array, out: Array<A>): "input" | "end" | PktLineError
  /** What the end of input means: an error, or `undefined` if it may end there. */
  end(): PktLineError | undefined
}

/**
 * Runs a decoder over a byte stream, piece by piece, stopping at its
 * `"end"` (the rest of the input is left unread).
 */
const decodeWith = <A, E, R>(
  self: Stream.Stream<Uint8Array, E, R>,
  make: () => PieceDecoder<A>
): Stream.Stream<A, E | PktLineError, R> =>
  Stream.transformPull(self, (upstream) =>
    Effect.sync(() => {
      const decoder = make()
      let pieces: ReadonlyArray<Uint8Array> = []
      let index = 0
      let stopped = false
      let pending: PktLineError | undefined
      const feed = (input: Arr.NonEmptyReadonlyArray<Uint8Array>) => {
        pieces = input
        index = 0
        return pull
      }
      const finish = Effect.suspend((): Pull.Pull<never, PktLineError> => {
        stopped = true
        const error = decoder.end()
        return error === undefined ? Cause.done() : Effect.fail(error)
      })
      const pull: Pull.Pull<Arr.NonEmptyReadonlyArray<A>, E | PktLineError> = Effect.suspend(() => {
        if (pending !== undefined) return Effect.fail(pending)
        if (stopped) return Cause.done()
        const out: Array<A> = []
        while (index < pieces.length) {
          const result = decoder.push(pieces[index++]!, out)
          if (result === "input") continue
          if (result === "end") {
            stopped = true
            break
          }
          // What was decoded before the error is delivered first.
          if (out.length === 0) return Effect.fail(result)
          pending = result
          break
        }
        if (out.length > 0) return Effect.succeed(out as unknown as Arr.NonEmptyReadonlyArray<A>)
        if (stopped) return Cause.done()
        return Effect.flatMap(Pull.catchDone(upstream, () => finish), feed)
      })
      return pull
    }))

/** Decodes every packet of each piece, assembling payloads split across pieces. */
const packetsOf = (): PieceDecoder<Packet> => {
  const decoder = new PacketDecoder()
  return {
    push: (piece, out) => {
      decoder.push(piece)
      for (;;) {
        const result = decoder.next()
        if (result === undefined) return "input"
        if (result instanceof PktLineError) return result
        out.push(result)
      }
    },
    end: () => decoder.end()
  }
}

/**
 * Decodes a byte stream, arriving in arbitrary pieces, into packets. Fails
 * with a {@link PktLineError} on a malformed header or when the input ends
 * inside a packet; packets before the error are delivered first.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodePackets = <E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Packet, E | PktLineError, R> =>
  decodeWith<Packet, E, R>(self, packetsOf)

/**
 * Decodes the first message of a byte stream as a stream of its payload
 * chunks. The stream ends at the packet that ends the message; the input
 * after it is not read. Input that ends before that packet fails with
 * `UnexpectedEnd`: a short message is never passed off as a whole one.
 *
 * Chunk boundaries follow the input, not the packets: payloads of 1 KiB or
 * more are views of the input, smaller ones are copied and joined, so that
 * each input piece gives few chunks however small its packets.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeMessage = <E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E | PktLineError, R> =>
  decodeWith<Uint8Array, E, R>(self, () => new PayloadDecoder())

/**
 * @since 0.1.0
 * @category models
 */
export interface CollectOptions {
  /**
   * The largest message accepted, in payload bytes (the message's own
   * bytes, without the pkt-line headers); a longer one fails with reason
   * `MessageTooLarge` as soon as its payload passes the limit. Whatever the
   * packet sizes, collecting holds at most about 8/7 of the payload read so
   * far plus 64 KiB, and the whole message once more while it is joined
   * into one buffer at the end: about twice the limit at most.
   */
  readonly maxBytes?: number | undefined
}

/**
 * Reads the first message from a pull of input pieces into one buffer,
 * without a Stream in between (what {@link readMessage} runs). Stops pulling at the end of the message; input after it is never
 * read. Input that ends first is an `UnexpectedEnd` error.
 *
 * @since 0.1.0
 * @category decoding
 */
export const collectMessage = <E>(
  pull: Effect.Effect<ReadonlyArray<Uint8Array>, E | Cause.Done>,
  options?: CollectOptions
): Effect.Effect<Uint8Array, Pull.ExcludeDone<E> | PktLineError> =>
  Effect.suspend(() => {
    const collector = new MessageCollector(options)
    const consume = (
      pieces: ReadonlyArray<Uint8Array>
    ): Effect.Effect<Uint8Array, Pull.ExcludeDone<E> | PktLineError> => {
      for (const piece of pieces) {
        const result = collector.push(piece)
        if (result !== undefined) return result instanceof PktLineError ? Effect.fail(result) : Effect.succeed(result)
      }
      return next
    }
    const next = Effect.flatMap(
      Pull.catchDone(pull, () => Effect.fail(collector.end())),
      consume
    )
    return next
  })

/**
 * Reads the first message of a byte stream into one buffer.
 *
 * @since 0.1.0
 * @category decoding
 */
export const readMessage = <E, R>(
  self: Stream.Stream<Uint8Array, E, R>,
  options?: CollectOptions
): Effect.Effect<Uint8Array, E | PktLineError, R> =>
  Effect.scoped(Effect.flatMap(Stream.toPull(self), (pull) => collectMessage(pull, options)))

/**
 * Concatenates byte chunks, without copying when there is only one.
 *
 * @since 0.1.0
 * @category utils
 */
export const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array =>
  chunks.length === 0 ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
