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
import { copyOf } from "../internal/Bytes.ts"

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

/** The value of each hexadecimal digit, upper or lower case; -1 for other bytes. */
const HEX_VALUE = (() => {
  const table = new Int8Array(256).fill(-1)
  for (let i = 0; i < 16; i++) {
    table[HEX.charCodeAt(i)] = i
    table[HEX.toUpperCase().charCodeAt(i)] = i
  }
  return table
})()

/**
 * The length a header at `at` gives; negative if one of its bytes is not a
 * hexadecimal digit (a -1 shifted and or-ed in leaves the sign bit set).
 */
const headerLength = (bytes: Uint8Array, at: number): number =>
  (HEX_VALUE[bytes[at]!]! << 12) | (HEX_VALUE[bytes[at + 1]!]! << 8) | (HEX_VALUE[bytes[at + 2]!]! << 4) |
  HEX_VALUE[bytes[at + 3]!]!

const decodeHeader = (a: number, b: number, c: number, d: number): Packet | PktLineError | number => {
  const h0 = HEX_VALUE[a]!, h1 = HEX_VALUE[b]!, h2 = HEX_VALUE[c]!, h3 = HEX_VALUE[d]!
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
 * What {@link PacketDecoder.step} found:
 *
 * - `"payload"`: payload bytes of the current packet, at
 *   `decoder.input.subarray(decoder.payloadStart, decoder.payloadEnd)`;
 * - `"end"`: a packet that ends a message ({@link PacketDecoder.ending});
 * - `"error"`: a protocol error ({@link PacketDecoder.error}), which every
 *   later step answers again;
 * - `"input"`: the input piece is used up; push the next one.
 *
 * @since 0.2.0
 * @category decoding
 */
export type Step = "payload" | "end" | "error" | "input"

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
  /** Payload bytes of the current packet still to come, for {@link step}. */
  private remaining = 0
  private failure: PktLineError | undefined = undefined
  /** Where the payload bytes of the last step begin. */
  private from = 0
  /** The packet that ended the message. */
  private last: Packet = flush

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

  /** The input piece being decoded. */
  get input(): Uint8Array {
    return this.chunk
  }

  /** Where, in {@link input}, the payload bytes of the last `"payload"` step begin. */
  get payloadStart(): number {
    return this.from
  }

  /** Where they end. */
  get payloadEnd(): number {
    return this.pos
  }

  /** The packet that ended the message, after an `"end"` step. */
  get ending(): Packet {
    return this.last
  }

  /** The protocol error met, if any. */
  get error(): PktLineError | undefined {
    return this.failure
  }

  /**
   * Decodes the next step of a message: payload bytes as they lie in the
   * input (a packet split across pieces comes in several steps), the
   * packet that ends the message, an error, or the need for more input.
   * Nothing is allocated: the payload is a range of {@link input}, for
   * readers that copy small payloads rather than keep an object for each.
   * Use either this or {@link next} on one decoder, not both.
   */
  step(): Step {
    if (this.remaining === 0) {
      if (this.failure !== undefined) return "error"
      // The usual header, a data packet's, whole in the piece, takes a
      // short way: a message of tiny packets is nothing but headers.
      const chunk = this.chunk
      const at = this.pos
      const whole = this.headerFilled === 0 && chunk.length - at >= 4 ? headerLength(chunk, at) : -1
      if (whole > 4 && whole <= MAX_PACKET_SIZE) {
        this.pos = at + 4
        this.remaining = whole - 4
      } else {
        const length = this.header()
        if (typeof length !== "number") {
          if (length === undefined) return "input"
          if (length instanceof PktLineError) return "error"
          this.last = length
          return "end"
        }
        if (length === 0) {
          this.last = EMPTY_DATA
          return "end"
        }
        this.remaining = length
      }
    }
    const pos = this.pos
    const n = Math.min(this.remaining, this.chunk.length - pos)
    if (n === 0) return "input"
    this.from = pos
    this.pos = pos + n
    this.remaining -= n
    return "payload"
  }

  /**
   * The short way through a run of small packets: copies the payloads of
   * the data packets that follow, each shorter than `below` bytes and whole
   * in the input, into `target` from `at`, while they fit; answers where the
   * copied bytes end. It stops, leaving the rest to {@link step}, at any
   * other packet, at a packet split across pieces, or when `target` is full.
   * `target` may be the input itself if `at` is not past the current
   * position: the payloads only move towards its start.
   */
  gather(target: Uint8Array, at: number, below: number): number {
    if (this.remaining !== 0 || this.headerFilled !== 0 || this.failure !== undefined) return at
    const chunk = this.chunk
    const room = target.length
    let pos = this.pos
    while (chunk.length - pos >= 4) {
      const length = headerLength(chunk, pos)
      const n = length - 4
      // Not a data packet (or not a valid header), too large, split, or no room.
      if (n <= 0 || n >= below || chunk.length - pos < length || room - at < n) break
      copyBytes(target, at, chunk, pos + 4, pos + length)
      at += n
      pos += length
    }
    this.pos = pos
    return at
  }

  /**
   * The next packet, a protocol error (after which the decoder keeps
   * answering that error), or `undefined` when more input is needed.
   */
  next(): Packet | PktLineError | undefined {
    if (this.fragments) {
      switch (this.step()) {
        case "payload":
          return data(this.chunk.subarray(this.from, this.pos))
        case "end":
          return this.last
        case "error":
          return this.failure
        case "input":
          return undefined
      }
    }
    if (this.failure !== undefined) return this.failure
    if (this.payload !== undefined) return this.fillPayload()
    const length = this.header()
    if (typeof length !== "number") return length
    if (length === 0) return EMPTY_DATA
    const chunk = this.chunk
    if (chunk.length - this.pos >= length) {
      const payload = chunk.subarray(this.pos, this.pos + length)
      this.pos += length
      return data(payload)
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

  /**
   * The next header: a special packet, a payload length, an error (kept),
   * or `undefined` while the input ends inside it.
   */
  private header(): Packet | PktLineError | number | undefined {
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
    if (length instanceof PktLineError) this.failure = length
    return length
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

// ---------------------------------------------------------------------------
// Reading messages whatever their packet sizes
//
// A message's cost in memory must follow its payload, not its packet count:
// a view of the input costs about a hundred bytes of heap, so a view per
// packet made a message of 1-byte packets cost a hundred times its size.
// Payloads below VIEW_MIN are therefore copied, side by side, into blocks;
// larger ones stay views of the input, which costs no copy.
// ---------------------------------------------------------------------------

/**
 * Payloads shorter than this are copied next to their neighbours; longer
 * ones are kept as views of their input. Around this size a view's object
 * costs about as much as copying the bytes, and its heap is under a tenth of
 * the bytes it stands for.
 */
const VIEW_MIN = 1024

/**
 * Copied payloads go into blocks that grow from this size (room for any
 * small payload, so a run of them that stops short of a fresh block's end
 * stopped for another reason than room)...
 */
const BLOCK_MIN = VIEW_MIN
/** ...to this one. */
const BLOCK_MAX = 64 * 1024

/**
 * Copies `source[start, end)` to `target` at `at`, which may be within
 * `source` itself if `at <= start`. A native call costs more than a loop
 * over a few bytes.
 */
const copyBytes = (target: Uint8Array, at: number, source: Uint8Array, start: number, end: number): void => {
  if (end - start <= 32) {
    for (let i = start; i < end; i++) target[at++] = source[i]!
  } else if (target === source) {
    target.copyWithin(at, start, end)
  } else {
    target.set(source.subarray(start, end), at)
  }
}

/**
 * Storage for copied payload bytes: blocks filled in order and never
 * overwritten, so a segment handed out stays valid as long as anyone holds
 * it. Blocks double from {@link BLOCK_MIN} to {@link BLOCK_MAX}, so that a
 * short message takes little; a block is left with less than
 * {@link VIEW_MIN} bytes unused when the next small payload may not fit.
 */
class Blocks {
  private block: Uint8Array = EMPTY
  /** Where the bytes not yet handed out begin in the block. */
  private from = 0
  private fill = 0

  /** Copies `source[start, end)`, handing a block's bytes to `out` as it fills up. */
  append(source: Uint8Array, start: number, end: number, out: Array<Uint8Array>): void {
    const fill = this.fill
    if (end - start <= this.block.length - fill) {
      copyBytes(this.block, fill, source, start, end)
      this.fill = fill + end - start
      return
    }
    while (start < end) {
      if (this.fill === this.block.length) this.next(out)
      const n = Math.min(end - start, this.block.length - this.fill)
      copyBytes(this.block, this.fill, source, start, start + n)
      this.fill += n
      start += n
    }
  }

  /** Hands out what the block holds and starts the next, twice as large up to the largest. */
  private next(out: Array<Uint8Array>): void {
    this.take(out)
    this.block = Buffer.allocUnsafe(Math.min(BLOCK_MAX, Math.max(BLOCK_MIN, this.block.length * 2)))
    this.from = this.fill = 0
  }

  /**
   * Copies the run of small whole packets that `decoder` is at (see
   * {@link PacketDecoder.gather}); answers how many payload bytes.
   */
  gather(decoder: PacketDecoder, out: Array<Uint8Array>): number {
    let total = 0
    for (;;) {
      const fill = decoder.gather(this.block, this.fill, VIEW_MIN)
      total += fill - this.fill
      this.fill = fill
      // With room for any small payload, it stopped for another reason.
      if (this.block.length - fill >= VIEW_MIN) return total
      this.next(out)
    }
  }

  /** Hands the bytes copied since the last take to `out`, as one view. */
  take(out: Array<Uint8Array>): void {
    if (this.fill === this.from) return
    out.push(this.block.subarray(this.from, this.fill))
    this.from = this.fill
  }
}

/**
 * Views keep their whole input piece alive. A piece is kept only if its
 * views cover this share of it; otherwise the viewed bytes are copied and
 * the piece let go. So what a collected message holds is about 8/7 of its
 * payload at most, plus one block, whatever its packets look like.
 */
const KEEP_SHARE = 7 / 8

/**
 * Decodes one message piece by piece and hands on the payload bytes of each
 * piece in few chunks, whatever its packet sizes: a payload of 1 KiB or
 * more is a view of its piece, and the smaller payloads between them are
 * joined into one chunk. A piece of 1-byte packets thus gives one chunk,
 * not thousands: a reader's cost per chunk is bounded by bytes, not by
 * packets. (Chunk boundaries carry no meaning: a message is the
 * concatenation of its payloads.)
 *
 * With `inPlace`, small payloads are joined by moving them within the piece
 * itself, over the headers between them: nothing is allocated, but the
 * pieces are changed, so they must be the reader's own (a socket's reads).
 * Otherwise they are copied into blocks of its own and the pieces are left
 * as they are.
 *
 * @since 0.2.0
 * @category decoding
 */
export class PayloadDecoder {
  private readonly decoder = new PacketDecoder(true)
  private readonly blocks: Blocks | undefined

  constructor(options?: { readonly inPlace?: boolean | undefined }) {
    this.blocks = options?.inPlace === true ? undefined : new Blocks()
  }

  /**
   * Decodes `piece`, adding its payload chunks to `out`. Answers `"input"`
   * when the piece is used up, `"end"` at the end of the message (the rest
   * of the piece, and any later input, is to be ignored), or a protocol
   * error; chunks decoded before an error are in `out`.
   */
  push(piece: Uint8Array, out: Array<Uint8Array>): "input" | "end" | PktLineError {
    const decoder = this.decoder
    const blocks = this.blocks
    decoder.push(piece)
    // In place: the payload bytes gathered at [runStart, runEnd) of the piece.
    let runStart = 0
    let runEnd = -1
    for (;;) {
      const step = decoder.step()
      if (step !== "payload") {
        if (blocks !== undefined) blocks.take(out)
        else if (runEnd >= 0) out.push(piece.subarray(runStart, runEnd))
        return step === "input" || step === "end" ? step : decoder.error!
      }
      const start = decoder.payloadStart
      const end = decoder.payloadEnd
      const small = end - start < VIEW_MIN
      if (blocks !== undefined) {
        if (small) {
          blocks.append(piece, start, end, out)
          blocks.gather(decoder, out)
        } else {
          blocks.take(out)
          out.push(piece.subarray(start, end))
        }
      } else {
        if (runEnd >= 0 && small) {
          // Moved next to the run, over the headers in between.
          copyBytes(piece, runEnd, piece, start, end)
          runEnd += end - start
        } else {
          // The first payload, or a large one (not worth moving): a run of its own.
          if (runEnd >= 0) out.push(piece.subarray(runStart, runEnd))
          runStart = start
          runEnd = end
        }
        // The small packets that follow join the run.
        runEnd = decoder.gather(piece, runEnd, VIEW_MIN)
      }
    }
  }

  /** The error that the end of input before the message's end is. */
  end(): PktLineError {
    return this.decoder.endOfMessage()
  }
}

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
 * each input piece gives few chunks however small its packets (see
 * {@link PayloadDecoder}).
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
 * It keeps views of the pieces it is given (they must not change
 * afterwards), but only of payloads of 1 KiB or more in pieces they mostly
 * fill; other payload bytes are copied into blocks of its own. Memory thus
 * follows the payload, whatever the packet sizes (see
 * {@link CollectOptions.maxBytes}). A message that is one payload within
 * one piece (the usual short request) is returned as a view of it, without
 * a copy.
 *
 * @since 0.1.0
 * @category decoding
 */
export class MessageCollector {
  private readonly decoder = new PacketDecoder(true)
  private readonly limit: number
  private size = 0
  /** The message so far, in order: views of pieces, and segments of blocks. */
  private readonly parts: Array<Uint8Array> = []
  private readonly blocks = new Blocks()
  /** The message's first payload while it is short and alone: perhaps the whole message. */
  private first: Uint8Array | undefined = undefined
  /** Where in `parts` the views of the current piece are, and their bytes. */
  private readonly views: Array<number> = []
  private viewed = 0

  constructor(options?: CollectOptions) {
    this.limit = options?.maxBytes ?? Infinity
  }

  /**
   * Takes the next input piece. Answers the whole message once its end is
   * seen (the rest of the piece, and any later input, is to be ignored), a
   * protocol error, or `undefined` while more input is needed.
   */
  push(piece: Uint8Array): Uint8Array | PktLineError | undefined {
    const decoder = this.decoder
    decoder.push(piece)
    for (;;) {
      switch (decoder.step()) {
        case "payload": {
          const start = decoder.payloadStart
          const end = decoder.payloadEnd
          const size = this.size += end - start
          if (size > this.limit) return new PktLineError({ reason: "MessageTooLarge", limit: this.limit })
          // The short way for a small payload that is not the first, and
          // for the small packets after it.
          if (end - start < VIEW_MIN && this.first === undefined && size > end - start) {
            this.blocks.append(piece, start, end, this.parts)
            if ((this.size += this.blocks.gather(decoder, this.parts)) > this.limit) {
              return new PktLineError({ reason: "MessageTooLarge", limit: this.limit })
            }
          } else this.add(piece, start, end)
          break
        }
        case "input":
          this.release(piece)
          return undefined
        case "end":
          return this.message()
        case "error":
          return decoder.error!
      }
    }
  }

  /** The error that the end of input before the message's end is. */
  end(): PktLineError {
    return this.decoder.endOfMessage()
  }

  private add(piece: Uint8Array, start: number, end: number): void {
    const parts = this.parts
    this.settleFirst()
    if (end - start >= VIEW_MIN) {
      this.blocks.take(parts)
      this.views.push(parts.length)
      this.viewed += end - start
      parts.push(piece.subarray(start, end))
    } else if (this.size === end - start) {
      this.first = piece.subarray(start, end)
    } else {
      this.blocks.append(piece, start, end, parts)
    }
  }

  /** A short first payload that turns out not to be alone is copied after all. */
  private settleFirst(): void {
    const first = this.first
    if (first === undefined) return
    this.first = undefined
    this.blocks.append(first, 0, first.length, this.parts)
  }

  /**
   * The piece is used up: its views are kept only if they cover most of
   * it; otherwise they become copies, and the piece is let go.
   */
  private release(piece: Uint8Array): void {
    this.settleFirst()
    const views = this.views
    if (views.length === 0) return
    if (this.viewed < piece.length * KEEP_SHARE) {
      const parts = this.parts
      for (const i of views) parts[i] = copyOf(parts[i]!)
    }
    views.length = 0
    this.viewed = 0
  }

  private message(): Uint8Array {
    if (this.first !== undefined) return this.first
    this.blocks.take(this.parts)
    return concat(this.parts)
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
