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
 * @since 0.1.0
 * @category constructors
 */
export const data = (payload: Uint8Array): Packet => ({ _tag: "Data", payload })

/**
 * @since 0.1.0
 * @category constructors
 */
export const flush: Packet = Object.freeze({ _tag: "Flush" })

/**
 * @since 0.1.0
 * @category constructors
 */
export const delimiter: Packet = Object.freeze({ _tag: "Delimiter" })

/**
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
        return `message exceeds the limit of ${this.limit} bytes (raise maxRequestBytes on the server, or maxResponseBytes on the client)`
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

const hexDigit = (c: number): number =>
  c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1

const decodeHeader = (a: number, b: number, c: number, d: number): Packet | PktLineError | number => {
  const h0 = hexDigit(a), h1 = hexDigit(b), h2 = hexDigit(c), h3 = hexDigit(d)
  if ((h0 | h1 | h2 | h3) < 0) {
    return new PktLineError({ reason: "BadLengthCharacter", header: String.fromCharCode(a, b, c, d) })
  }
  const length = (h0 << 12) | (h1 << 8) | (h2 << 4) | h3
  switch (length) {
    case 0:
      return flush
    case 1:
      return delimiter
    case 2:
      return responseEnd
    case 3:
      return new PktLineError({ reason: "BadLength", length })
  }
  // Git reports an over-long packet by its payload length.
  if (length > MAX_PACKET_SIZE) return new PktLineError({ reason: "BadLength", length: length - 4 })
  return length - 4
}

const EMPTY_DATA = data(EMPTY)

/**
 * An incremental pkt-line decoder: feed it input pieces as they arrive and
 * pull packets one at a time. It is the engine beneath the Stream
 * transformations, exposed for hot paths that drive a socket directly.
 *
 * A packet that lies whole inside one input piece is returned as a view of
 * that piece (no copy); only a payload split across pieces is assembled, so
 * memory stays within one packet plus the current piece. Pulling one packet
 * at a time lets a reader stop at the end of a message and ignore whatever
 * follows it.
 *
 * @since 0.1.0
 * @category decoding
 */
export class PacketDecoder {
  private chunk: Uint8Array = EMPTY
  private pos = 0
  // A header split across input pieces, its bytes packed into one number
  // (most significant first): a decoder per request is cheaper without a
  // typed array of its own.
  private headerBytes = 0
  private headerFilled = 0
  private payload: Uint8Array | undefined = undefined
  private payloadFilled = 0
  /** Payload bytes of the current packet still to come, in fragment mode. */
  private remaining = 0
  private failure: PktLineError | undefined = undefined

  /**
   * @param fragments When true, a payload split across input pieces is
   *   returned piece by piece, as several `Data` results that are views of
   *   the input, instead of being assembled into one buffer. Readers of a
   *   *message* (the concatenation of payloads) lose nothing and save a
   *   copy; readers of *packets* need whole ones.
   */
  private readonly fragments: boolean
  constructor(fragments = false) {
    this.fragments = fragments
  }

  /**
   * Supplies the next input piece. Call it only once {@link next} has
   * returned `undefined` (the previous piece is used up).
   */
  push(chunk: Uint8Array): void {
    this.chunk = chunk
    this.pos = 0
  }

  /**
   * The next packet, a protocol error (after which the decoder keeps
   * answering that error), or `undefined` when more input is needed.
   */
  next(): Packet | PktLineError | undefined {
    if (this.failure !== undefined) return this.failure
    if (this.remaining > 0) return this.nextFragment()
    if (this.payload !== undefined) return this.fillPayload()
    const chunk = this.chunk
    let length: Packet | PktLineError | number
    if (this.headerFilled === 0 && chunk.length - this.pos >= 4) {
      const p = this.pos
      length = decodeHeader(chunk[p]!, chunk[p + 1]!, chunk[p + 2]!, chunk[p + 3]!)
      this.pos = p + 4
    } else {
      while (this.headerFilled < 4 && this.pos < chunk.length) {
        this.headerBytes = (this.headerBytes << 8) | chunk[this.pos++]!
        this.headerFilled++
      }
      if (this.headerFilled < 4) return undefined
      this.headerFilled = 0
      const h = this.headerBytes
      this.headerBytes = 0
      length = decodeHeader((h >>> 24) & 255, (h >>> 16) & 255, (h >>> 8) & 255, h & 255)
    }
    if (typeof length !== "number") {
      if (length instanceof PktLineError) this.failure = length
      return length
    }
    if (length === 0) return EMPTY_DATA
    if (chunk.length - this.pos >= length) {
      const payload = chunk.subarray(this.pos, this.pos + length)
      this.pos += length
      return data(payload)
    }
    if (this.fragments) {
      this.remaining = length
      return this.nextFragment()
    }
    this.payload = Buffer.allocUnsafe(length)
    this.payloadFilled = 0
    return this.fillPayload()
  }

  /**
   * Reports whether the input may end here: an error when it ended inside a
   * header or a payload.
   */
  end(): PktLineError | undefined {
    if (this.failure !== undefined) return this.failure
    if (this.payload !== undefined || this.remaining > 0) {
      return new PktLineError({ reason: "UnexpectedEnd", within: "payload" })
    }
    if (this.headerFilled > 0) return new PktLineError({ reason: "UnexpectedEnd", within: "header" })
    return undefined
  }

  /**
   * The error that the end of input is for a reader of a message, who
   * has not yet seen the packet that ends it: `UnexpectedEnd` within the
   * header or payload it ended in, or within the message.
   */
  endOfMessage(): PktLineError {
    return this.end() ?? new PktLineError({ reason: "UnexpectedEnd", within: "message" })
  }

  private nextFragment(): Packet | undefined {
    const n = Math.min(this.remaining, this.chunk.length - this.pos)
    if (n === 0) return undefined
    const piece = this.chunk.subarray(this.pos, this.pos + n)
    this.pos += n
    this.remaining -= n
    return data(piece)
  }

  private fillPayload(): Packet | undefined {
    const payload = this.payload!
    const n = Math.min(payload.length - this.payloadFilled, this.chunk.length - this.pos)
    payload.set(this.chunk.subarray(this.pos, this.pos + n), this.payloadFilled)
    this.payloadFilled += n
    this.pos += n
    if (this.payloadFilled < payload.length) return undefined
    this.payload = undefined
    return data(payload)
  }
}

/**
 * Runs a decoder over a byte stream. `onPacket` collects output for each
 * packet and answers `true` to stop reading (the rest of the input is left
 * unread); `onEnd` decides what the end of input means.
 */
const decodeWith = <A, E, R>(
  self: Stream.Stream<Uint8Array, E, R>,
  fragments: boolean,
  onPacket: (packet: Packet, out: Array<A>) => boolean,
  onEnd: (decoder: PacketDecoder) => PktLineError | undefined
): Stream.Stream<A, E | PktLineError, R> =>
  Stream.transformPull(self, (upstream) =>
    Effect.sync(() => {
      const decoder = new PacketDecoder(fragments)
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
        const error = onEnd(decoder)
        return error === undefined ? Cause.done() : Effect.fail(error)
      })
      const pull: Pull.Pull<Arr.NonEmptyReadonlyArray<A>, E | PktLineError> = Effect.suspend(() => {
        if (pending !== undefined) return Effect.fail(pending)
        if (stopped) return Cause.done()
        const out: Array<A> = []
        for (;;) {
          const result = decoder.next()
          if (result === undefined) {
            if (index < pieces.length) {
              decoder.push(pieces[index++]!)
              continue
            }
            break
          }
          if (result instanceof PktLineError) {
            // Packets decoded before the error are delivered first.
            if (out.length === 0) return Effect.fail(result)
            pending = result
            break
          }
          if (onPacket(result, out)) {
            stopped = true
            break
          }
        }
        if (out.length > 0) return Effect.succeed(out as unknown as Arr.NonEmptyReadonlyArray<A>)
        if (stopped) return Cause.done()
        return Effect.flatMap(Pull.catchDone(upstream, () => finish), feed)
      })
      return pull
    }))

/**
 * Decodes a byte stream, arriving in arbitrary pieces, into packets. Fails
 * with a {@link PktLineError} on a malformed header or when the input ends
 * inside a packet; packets before the error are delivered first.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodePackets = <E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Packet, E | PktLineError, R> =>
  decodeWith<Packet, E, R>(self, false, (packet, out) => {
    out.push(packet)
    return false
  }, (decoder) => decoder.end())

/**
 * Decodes the first message of a byte stream as a stream of its payload
 * chunks. The stream ends at the packet that ends the message; the input
 * after it is not read. Input that ends before that packet fails with
 * `UnexpectedEnd`: a short message is never passed off as a whole one.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeMessage = <E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<Uint8Array, E | PktLineError, R> =>
  decodeWith<Uint8Array, E, R>(self, true, (packet, out) => {
    if (endsMessage(packet)) return true
    out.push((packet as { readonly payload: Uint8Array }).payload)
    return false
  }, (decoder) => decoder.endOfMessage())

/**
 * @since 0.1.0
 * @category models
 */
export interface CollectOptions {
  /** The largest message accepted; a longer one fails with reason `MessageTooLarge`. */
  readonly maxBytes?: number | undefined
}

/**
 * Reads the first message from a pull of input pieces into one buffer,
 * without a Stream in between: the loop socket readers run for every
 * request. Stops pulling at the end of the message; input after it is never
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
 * Collects the first message from input pieces pushed to it, synchronously:
 * the engine of {@link collectMessage}, for readers that receive pieces in
 * callbacks (a socket's `data` events) and want no Effect step per piece.
 *
 * @since 0.1.0
 * @category decoding
 */
export class MessageCollector {
  private readonly decoder = new PacketDecoder(true)
  private readonly parts: Array<Uint8Array> = []
  private size = 0
  private readonly limit: number

  constructor(options?: CollectOptions) {
    this.limit = options?.maxBytes ?? Infinity
  }

  /**
   * Takes the next input piece. Answers the whole message once its end is
   * seen (the rest of the piece, and any later input, is to be ignored), a
   * protocol error, or `undefined` while more input is needed.
   */
  push(piece: Uint8Array): Uint8Array | PktLineError | undefined {
    this.decoder.push(piece)
    for (;;) {
      const result = this.decoder.next()
      if (result === undefined) return undefined
      if (result instanceof PktLineError) return result
      if (endsMessage(result)) return concat(this.parts)
      const payload = (result as { readonly payload: Uint8Array }).payload
      this.size += payload.length
      if (this.size > this.limit) return new PktLineError({ reason: "MessageTooLarge", limit: this.limit })
      this.parts.push(payload)
    }
  }

  /** The error that the end of input before the message's end is. */
  end(): PktLineError {
    return this.decoder.endOfMessage()
  }
}

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
