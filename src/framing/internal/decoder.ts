/**
 * The pkt-line decoding engine: an incremental packet decoder that reads
 * payloads as byte ranges (no object per packet), a payload decoder that
 * turns one input piece into few chunks however small its packets, and the
 * collector that reads one whole message into one buffer with memory that
 * follows the payload. The public Stream transformations in `PktLine` and
 * the socket readers in `transport/internal` drive them.
 *
 * Nothing here touches `PktLine`'s bindings while this module loads: the
 * two import each other.
 */
import {
  type CollectOptions,
  concat,
  data,
  delimiter,
  flush,
  MAX_PACKET_SIZE,
  type Packet,
  PktLineError,
  responseEnd
} from "../PktLine.ts"
import { copyOf } from "../../internal/Bytes.ts"

const HEX = "0123456789abcdef"
const EMPTY = new Uint8Array(0)

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

/** The payload of an empty data packet (`0004`). */
const EMPTY_DATA: Packet = Object.freeze({ _tag: "Data", payload: EMPTY })

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

