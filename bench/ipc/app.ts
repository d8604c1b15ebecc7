/**
 * The benchmark application every server serves: the part of SPEC 5.1 the
 * workloads use (`ping`, `sendbytes`, `quit`) plus `stream <n>`, which answers
 * n bytes of `x` in 64 KiB reply calls.
 *
 * A server script for any implementation only has to hand requests to
 * {@link benchApp} and send what it replies (see ./serverMain.ts).
 */

/**
 * Sends one chunk of the response (as one or more data packets, at once).
 * The returned promise settles when the caller may send more: it is where a
 * server applies back-pressure (e.g. waits for `'drain'`), and it rejects when
 * the client went away.
 */
export type Reply = (chunk: Uint8Array) => Promise<void>

/**
 * The application callback of SPEC 3.1 in Promise form: called once per
 * well-formed request, may call `reply` any number of times, and resolves to
 * `"quit"` when the server should shut down. The server writes the flush and
 * closes the connection after it resolves.
 */
export type AppHandler = (request: Uint8Array, reply: Reply) => Promise<"quit" | void>

/** A request, classified. Exported so an Effect-native server can dispatch without the Promise adapter. */
export type Command =
  | { readonly _tag: "Ping" }
  | { readonly _tag: "Quit" }
  | { readonly _tag: "SendBytes"; readonly ballast: Uint8Array }
  | { readonly _tag: "Stream"; readonly bytes: number }
  | { readonly _tag: "Unhandled" }

/** Size of each reply call for `stream <n>`. */
export const STREAM_CHUNK_SIZE = 64 * 1024

// One constant chunk, sent repeatedly: its bytes never change, so servers may
// keep references to it in their write queues without copying.
const STREAM_CHUNK: Uint8Array = new Uint8Array(STREAM_CHUNK_SIZE).fill(0x78)

const latin1 = (s: string): Uint8Array => Buffer.from(s, "latin1")
const PONG = latin1("pong")
const SENDBYTES = latin1("sendbytes ")
const STREAM = latin1("stream ")

const startsWith = (b: Uint8Array, prefix: Uint8Array): boolean => {
  if (b.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (b[i] !== prefix[i]) return false
  return true
}

const isExactly = (b: Uint8Array, s: string): boolean => {
  if (b.length !== s.length) return false
  for (let i = 0; i < s.length; i++) if (b[i] !== s.charCodeAt(i)) return false
  return true
}

/** Classifies a request. Matching is exact and case-sensitive, as in SPEC 5.1. */
export const parseCommand = (request: Uint8Array): Command => {
  if (isExactly(request, "ping")) return { _tag: "Ping" }
  if (isExactly(request, "quit")) return { _tag: "Quit" }
  if (startsWith(request, SENDBYTES)) return { _tag: "SendBytes", ballast: request.subarray(SENDBYTES.length) }
  if (startsWith(request, STREAM)) {
    const text = Buffer.from(request.buffer, request.byteOffset + STREAM.length, request.length - STREAM.length)
      .toString("latin1")
    const n = Number(text)
    if (/^[0-9]+$/.test(text) && Number.isSafeInteger(n)) return { _tag: "Stream", bytes: n }
  }
  return { _tag: "Unhandled" }
}

// Counting bytes that differ from the first would be a 50 MB JS loop; compare
// 64 KiB blocks against a filled block with memcmp instead and only count
// inside blocks that differ. Keeps the application cost negligible and equal
// for every implementation.
const countDiffering = (ballast: Uint8Array): number => {
  const first = ballast[0]!
  const block = Buffer.alloc(Math.min(STREAM_CHUNK_SIZE, ballast.length), first)
  const view = Buffer.from(ballast.buffer, ballast.byteOffset, ballast.length)
  let differing = 0
  for (let at = 0; at < view.length; at += block.length) {
    const piece = view.subarray(at, at + block.length)
    if (piece.equals(block.subarray(0, piece.length))) continue
    for (let i = 0; i < piece.length; i++) if (piece[i] !== first) differing++
  }
  return differing
}

/** The `sendbytes` answer for a ballast (SPEC 5.1), as text. */
export const sendbytesAnswer = (ballast: Uint8Array): string => {
  if (ballast.length === 0) return "rcvd:\u000000000000\n"
  const differing = countDiffering(ballast)
  return differing === 0
    ? `rcvd:${String.fromCharCode(ballast[0]!)}${String(ballast.length).padStart(8, "0")}\n`
    : `errs:${differing}\n`
}

/** The benchmark application (see the module comment). */
export const benchApp: AppHandler = async (request, reply) => {
  const command = parseCommand(request)
  switch (command._tag) {
    case "Ping":
      return reply(PONG)
    case "Quit":
      return "quit"
    case "SendBytes":
      return reply(latin1(sendbytesAnswer(command.ballast)))
    case "Stream": {
      // Bounded: at most ceil(bytes / 64 KiB) iterations.
      for (let left = command.bytes; left > 0; left -= STREAM_CHUNK_SIZE) {
        await reply(left >= STREAM_CHUNK_SIZE ? STREAM_CHUNK : STREAM_CHUNK.subarray(0, left))
      }
      return
    }
    case "Unhandled":
      return reply(latin1(`unhandled command: ${Buffer.from(request).toString("latin1")}`))
  }
}
