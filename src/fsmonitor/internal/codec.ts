/**
 * The fsmonitor protocol's bytes: tokens, and the answer a daemon sends to
 * a query (`<token>` NUL, then `/` NUL for "everything may have changed",
 * or one `<path>` NUL per changed path), in both directions.
 *
 * @since 0.2.0
 */
import { MAX_PAYLOAD_SIZE } from "../../framing/PktLine.ts"
import type { Answer, DecodeFailure, Token } from "../Fsmonitor.ts"



/**
 * A failed decoding: the reason and what was seen.
 *
 * @since 0.2.0
 */
export interface Malformed {
  readonly _tag: "Malformed"
  readonly reason: DecodeFailure
  readonly detail: string
}

const NUL = 0
const TRIVIAL = "/"

/** Fails on bytes that are not UTF-8, rather than replacing them: a replaced byte would name another file. */
const utf8 = new TextDecoder("utf-8", { fatal: true })

const malformed = (reason: DecodeFailure, detail: string): Malformed => ({ _tag: "Malformed", reason, detail })

const isTrivialMarker = (path: string) => path === TRIVIAL

/** A path a daemon may name: worktree-relative, so never starting with `/`. */
const isRelative = (path: string) => !path.startsWith("/")

/**
 * Decodes an answer's payload (the message's bytes, framing removed).
 * Strict: every field must be NUL-terminated, the token must not be empty,
 * no path may be empty, absolute, or not UTF-8, and `/` must be the only
 * entry when present. A malformed answer is never turned into a list.
 *
 * @since 0.2.0
 */
export const decodeAnswer = (payload: Uint8Array): Answer | Malformed => {
  const fields: Array<string> = []
  let start = 0
  for (let at = 0; at < payload.length; at++) {
    if (payload[at] !== NUL) continue
    let field: string
    try {
      field = utf8.decode(payload.subarray(start, at))
    } catch {
      return malformed("InvalidUtf8", `field ${fields.length + 1} is not UTF-8`)
    }
    fields.push(field)
    start = at + 1
  }
  if (start !== payload.length) {
    return fields.length === 0
      ? malformed("MissingToken", "the answer's token is not NUL-terminated")
      : malformed("UnterminatedPath", `the last path (after ${fields.length - 1} complete ones) is not NUL-terminated`)
  }
  const [token, ...paths] = fields
  if (token === undefined || token === "") {
    return malformed("MissingToken", payload.length === 0 ? "the answer is empty" : "the answer's token is empty")
  }
  const empty = paths.findIndex((path) => path === "")
  if (empty !== -1) return malformed("EmptyPath", `path ${empty + 1} of ${paths.length} is empty`)
  const marker = paths.findIndex(isTrivialMarker)
  if (marker !== -1) {
    return paths.length === 1
      ? { _tag: "Trivial", token }
      : malformed("TrivialNotAlone", `'/' (everything changed) comes with ${paths.length - 1} other paths`)
  }
  const absolute = paths.find((path) => !isRelative(path))
  if (absolute !== undefined) return malformed("AbsolutePath", `'${absolute}' is not relative to the worktree`)
  return { _tag: "Changed", token, paths }
}

const terminated = (text: string): Uint8Array => {
  const bytes = Buffer.allocUnsafe(Buffer.byteLength(text, "utf8") + 1)
  bytes[bytes.write(text, 0, "utf8")] = NUL
  return bytes
}

/**
 * Encodes an answer as the chunks a daemon replies with, in Git's layout:
 * the token in a chunk of its own, then `/` alone, or the paths packed into
 * as few chunks as fit in one packet each (a path longer than a packet
 * gets a chunk of its own, split across packets by the framing).
 *
 * @since 0.2.0
 */
export const encodeAnswer = (answer: Answer): Array<Uint8Array> => {
  const token = terminated(answer.token)
  if (answer._tag === "Trivial") return [token, terminated(TRIVIAL)]
  const chunks: Array<Uint8Array> = [token]
  let batch: Array<Uint8Array> = []
  let size = 0
  for (const path of answer.paths) {
    const entry = terminated(path)
    if (size > 0 && size + entry.length > MAX_PAYLOAD_SIZE) {
      chunks.push(Buffer.concat(batch, size))
      batch = []
      size = 0
    }
    batch.push(entry)
    size += entry.length
  }
  if (size > 0) chunks.push(Buffer.concat(batch, size))
  return chunks
}


/** @since 0.2.0 */
export const formatToken = (token: Token): string => `${token.prefix}:${token.id}:${token.seq}`

const SEQ = /^(0|[1-9]\d*)$/

/**
 * Reads a token of the form `<prefix>:<id>:<seq>` with a decimal `seq`;
 * anything else (a V1 timestamp, `builtin:fake`) is `undefined`.
 *
 * @since 0.2.0
 */
export const parseToken = (text: string): Token | undefined => {
  const first = text.indexOf(":")
  const last = text.lastIndexOf(":")
  if (first <= 0 || last === first) return undefined
  const seq = text.slice(last + 1)
  const id = text.slice(first + 1, last)
  if (!SEQ.test(seq) || id === "") return undefined
  const value = Number(seq)
  return Number.isSafeInteger(value) ? { prefix: text.slice(0, first), id, seq: value } : undefined
}
