/**
 * Hand-written pkt-line framing on Node `Buffer`s, for the raw-node baseline.
 *
 * Deliberately independent of `src/framing` so that the baseline measures
 * what a careful plain-Node implementation costs, not our codec.
 */
import type { Socket } from "node:net"

/** Largest packet on the wire, header included (`fff0`). */
export const MAX_PACKET = 65520
/** Largest payload of one packet. */
export const MAX_PAYLOAD = MAX_PACKET - 4

/** The flush packet that ends every message. */
export const FLUSH: Buffer = Buffer.from("0000", "latin1")

// Below this size, copying the payload next to its header into one buffer
// (one write, one syscall) is cheaper than a corked header+payload writev.
const COPY_LIMIT = 16 * 1024

const HEX = "0123456789abcdef"
const HEADER_MAX: Buffer = Buffer.from("fff0", "latin1")

const writeHeader = (into: Buffer, at: number, packetLength: number): void => {
  into[at] = HEX.charCodeAt((packetLength >> 12) & 15)
  into[at + 1] = HEX.charCodeAt((packetLength >> 8) & 15)
  into[at + 2] = HEX.charCodeAt((packetLength >> 4) & 15)
  into[at + 3] = HEX.charCodeAt(packetLength & 15)
}

const header = (packetLength: number): Buffer => {
  if (packetLength === MAX_PACKET) return HEADER_MAX // the common case in bulk transfers
  const h = Buffer.allocUnsafe(4)
  writeHeader(h, 0, packetLength)
  return h
}

const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/**
 * Writes `payload` as data packets (split at 65516 bytes; nothing for an
 * empty payload), followed by a flush when `withFlush`. Small messages go out
 * as one freshly built buffer; large ones as a corked sequence of header and
 * payload *views* (no copy of the payload). Returns `socket.write`'s last
 * answer: `false` means the caller should wait for `'drain'`.
 */
export const writePackets = (socket: Socket, payload: Uint8Array, withFlush: boolean): boolean => {
  const n = payload.length
  if (n <= COPY_LIMIT && n <= MAX_PAYLOAD) {
    const out = Buffer.allocUnsafe((n > 0 ? n + 4 : 0) + (withFlush ? 4 : 0))
    let at = 0
    if (n > 0) {
      writeHeader(out, 0, n + 4)
      out.set(payload, 4)
      at = n + 4
    }
    if (withFlush) FLUSH.copy(out, at)
    return out.length === 0 ? true : socket.write(out)
  }
  const bytes = asBuffer(payload)
  let ok = true
  socket.cork() // one writev for all headers and views
  for (let at = 0; at < n; at += MAX_PAYLOAD) {
    const piece = bytes.subarray(at, Math.min(n, at + MAX_PAYLOAD))
    socket.write(header(piece.length + 4))
    ok = socket.write(piece)
  }
  if (withFlush) ok = socket.write(FLUSH)
  socket.uncork()
  return ok
}

const HEX_VALUE = (() => {
  const t = new Int8Array(256).fill(-1)
  for (let i = 0; i < 10; i++) t[48 + i] = i
  for (let i = 0; i < 6; i++) {
    t[97 + i] = 10 + i // a-f
    t[65 + i] = 10 + i // A-F: readers accept both cases
  }
  return t
})()

const parseLength = (b: Uint8Array, at: number): number => {
  const a = HEX_VALUE[b[at]!]!, c = HEX_VALUE[b[at + 1]!]!, d = HEX_VALUE[b[at + 2]!]!, e = HEX_VALUE[b[at + 3]!]!
  if ((a | c | d | e) < 0) throw new Error("pkt-line: bad length character")
  return (a << 12) | (c << 8) | (d << 4) | e
}

/**
 * Incremental reader of one pkt-line message. Feed it socket chunks with
 * `push`; it hands every payload piece to `onPayload` as a view into the
 * chunk it came in (no copy) and reports when the terminating packet (flush,
 * delimiter, response-end or empty `0004`) has been seen. Bytes after it are
 * ignored. Malformed headers throw.
 */
export class MessageReader {
  /** Whether the terminating packet has been read. */
  done = false
  private readonly partial = Buffer.allocUnsafe(4) // header split across chunks
  private partialLength = 0
  private remaining = 0 // payload bytes still due for the current packet
  private readonly onPayload: (piece: Buffer) => void

  constructor(onPayload: (piece: Buffer) => void) {
    this.onPayload = onPayload
  }

  /** Consumes `chunk`; returns `true` once the message is complete. */
  push(chunk: Buffer): boolean {
    if (this.done) return true
    const n = chunk.length
    let i = 0
    while (i < n) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, n - i)
        this.onPayload(chunk.subarray(i, i + take))
        i += take
        this.remaining -= take
        continue
      }
      let length: number
      if (this.partialLength === 0 && n - i >= 4) {
        length = parseLength(chunk, i)
        i += 4
      } else {
        while (this.partialLength < 4 && i < n) this.partial[this.partialLength++] = chunk[i++]!
        if (this.partialLength < 4) return false
        this.partialLength = 0
        length = parseLength(this.partial, 0)
      }
      if (length === 3 || length > MAX_PACKET) throw new Error(`pkt-line: bad length ${length}`)
      if (length <= 4) { // 0000, 0001, 0002 and an empty 0004 all end the message
        this.done = true
        return true
      }
      this.remaining = length - 4
    }
    return false
  }
}
