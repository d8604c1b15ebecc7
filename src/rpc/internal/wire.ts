/**
 * The text form of effect/rpc's messages on a Simple IPC connection, both
 * directions. The public description is in `../SimpleIpcRpc.ts`; here are
 * the encoders and the decoders, which know nothing of any group: values
 * arrive already encoded by the RPC's schemas (their JSON form), and leave
 * as such.
 *
 * One connection carries one call, so no message names a request: the
 * server numbers the call itself, and the client knows which call it made.
 */
import type * as RpcMessage from "effect/rpc/RpcMessage"
import * as Json from "./json.ts"

/** Before the call line: the request's headers, as a JSON array of `[name, value]`. */
const HEADERS = "@headers "
/** Before the call line: the caller's span, `<traceId> <spanId> <0|1>`. */
const SPAN = "@span "
/** The last line of a response that failed with one declared error. */
const FAIL = "fail "
/** The last line of a response that died with one defect. */
const DIE = "die "
/** The last line of a response that ended with any other cause (interruption, several errors). */
const CAUSE = "cause "

/** The longest piece of a message echoed in an error. */
const ECHOED = 200

/** A request the server cannot read: why, in words. */
export type RequestProblem = string

const isWhitespace = (code: number) => code === 0x20 || code === 0x09 || code === 0x0a || code === 0x0d

/** Whether a tag can go on the wire as the first word of the call line. */
export const isWireTag = (tag: string): boolean => tag.length > 0 && !/\s/.test(tag) && !tag.startsWith("@")

/**
 * The request text of a call: its header and span lines when it has any,
 * then `<tag>` and, unless the payload's JSON is `null`, a space and that
 * JSON.
 */
export const encodeRequest = (request: RpcMessage.RequestEncoded): string => {
  let text = ""
  if (request.headers.length > 0) text += `${HEADERS}${JSON.stringify(request.headers)}\n`
  if (request.spanId !== undefined && request.traceId !== undefined) {
    text += `${SPAN}${request.traceId} ${request.spanId} ${request.sampled === false ? 0 : 1}\n`
  }
  const payload = JSON.stringify(request.payload) ?? "null"
  return payload === "null" ? text + request.tag : `${text}${request.tag} ${payload}`
}

/** Parses JSON from the other end, refusing what nests too deeply to decode safely. */
const parseJson = (text: string): { readonly value: unknown } | { readonly problem: string } => {
  if (Json.nestsDeeperThan(text, Json.maxJsonDepth)) {
    return { problem: `JSON nested more than ${Json.maxJsonDepth} deep` }
  }
  try {
    return { value: JSON.parse(text) }
  } catch (error) {
    return { problem: `not valid JSON (${Json.clip((error as Error).message, ECHOED)}): ${Json.clip(text, ECHOED)}` }
  }
}

const isHeaderList = (value: unknown): value is ReadonlyArray<[string, string]> =>
  Array.isArray(value) &&
  value.every((entry) => Array.isArray(entry) && entry.length === 2 && typeof entry[0] === "string" && typeof entry[1] === "string")

const utf8 = new TextDecoder("utf-8", { fatal: true })

/**
 * The call a request carries, as effect/rpc's server reads it (numbered
 * `id`), or why it cannot be read. The tag is not checked here: the RPC
 * server answers an unknown one.
 */
export const decodeRequest = (bytes: Uint8Array, id: number): RpcMessage.RequestEncoded | RequestProblem => {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return "the request is not UTF-8 text"
  }
  let headers: ReadonlyArray<[string, string]> = []
  let span: { traceId: string; spanId: string; sampled: boolean } | undefined = undefined
  // Lines before the call line start with `@`, which no tag does.
  while (text.startsWith("@")) {
    const end = text.indexOf("\n")
    if (end === -1) return `a request line starting with '@' but no call after it: ${Json.clip(text, ECHOED)}`
    const line = text.slice(0, end)
    text = text.slice(end + 1)
    if (line.startsWith(HEADERS)) {
      const parsed = parseJson(line.slice(HEADERS.length))
      if ("problem" in parsed) return `the headers line: ${parsed.problem}`
      if (!isHeaderList(parsed.value)) return `the headers line is not a list of [name, value] strings: ${Json.clip(line, ECHOED)}`
      headers = parsed.value
    } else if (line.startsWith(SPAN)) {
      const [traceId, spanId, sampled] = line.slice(SPAN.length).split(" ")
      if (traceId === undefined || spanId === undefined || (sampled !== "0" && sampled !== "1")) {
        return `the span line is not '@span <traceId> <spanId> <0|1>': ${Json.clip(line, ECHOED)}`
      }
      span = { traceId, spanId, sampled: sampled === "1" }
    }
    // Other `@` lines are for later versions: skipped, so that an older
    // server still serves a newer client's calls.
  }
  let end = 0
  while (end < text.length && !isWhitespace(text.charCodeAt(end))) end++
  const tag = text.slice(0, end)
  const json = text.slice(end).trim()
  let payload: unknown = null
  if (json !== "") {
    const parsed = parseJson(json)
    if ("problem" in parsed) return `the payload of '${Json.clip(tag, 64)}' is ${parsed.problem}`
    payload = parsed.value
  }
  return { _tag: "Request", id, tag, payload, headers, ...span }
}

/** The text of some items of a streamed response: one JSON line each. */
export const encodeChunk = (values: ReadonlyArray<unknown>): string => {
  let text = ""
  for (const value of values) text += `${JSON.stringify(value) ?? "null"}\n`
  return text
}

/**
 * The last part of a response: the success value's JSON (nothing for
 * `null`), or a line naming the failure. It has no newline of its own, so
 * that a unary response printed as it is reads as one line.
 */
export const encodeExit = (exit: RpcMessage.ExitEncoded<unknown, unknown>): string => {
  if (exit._tag === "Success") {
    const json = JSON.stringify(exit.value) ?? "null"
    return json === "null" ? "" : json
  }
  const cause = exit.cause
  if (cause.length === 1) {
    const reason = cause[0]!
    if (reason._tag === "Fail") return FAIL + JSON.stringify(reason.error)
    if (reason._tag === "Die") return encodeDefect(reason.defect)
  }
  return CAUSE + JSON.stringify(cause)
}

/** The longest defect message sent whole: longer ones are cut (see {@link encodeDefect}). */
const DEFECT_TEXT = 1024

/**
 * The last line of a response that died (a defect of the handler, or of
 * the server's reading of the call). A defect that is a message is cut to
 * its first {@link DEFECT_TEXT} characters: the RPC server's own messages
 * quote the request (an unknown tag, a Schema issue with its key), and a
 * request must not make its error reply as large as itself.
 */
export const encodeDefect = (defect: unknown): string =>
  DIE + (JSON.stringify(typeof defect === "string" ? Json.clip(defect, DEFECT_TEXT) : defect) ?? "null")

/**
 * Reads a response as its bytes arrive: complete lines are the items of a
 * stream, and what is left when the response ends is its exit. Feed it
 * with {@link ResponseReader.push}; {@link ResponseReader.end} gives the
 * exit.
 */
export class ResponseReader {
  /** Made for a response that comes in pieces, whose characters may be cut between two. */
  private decoder: InstanceType<typeof TextDecoder> | undefined = undefined
  private rest = ""

  /**
   * The items whose lines `bytes` completes (none, often), or why they
   * cannot be read. `whole`: `bytes` is the whole response.
   */
  push(bytes: Uint8Array, whole = false): ReadonlyArray<unknown> | { readonly problem: string } {
    let text: string
    try {
      text = this.rest + (whole && this.decoder === undefined
        ? utf8.decode(bytes)
        : (this.decoder ??= new TextDecoder("utf-8", { fatal: true })).decode(bytes, { stream: true }))
    } catch {
      return { problem: "the response is not UTF-8 text" }
    }
    let newline = text.indexOf("\n")
    if (newline === -1) {
      this.rest = text
      return []
    }
    const items: Array<unknown> = []
    let start = 0
    while (newline !== -1) {
      const parsed = parseJson(text.slice(start, newline))
      if ("problem" in parsed) return { problem: `an item of the response is ${parsed.problem}` }
      items.push(parsed.value)
      start = newline + 1
      newline = text.indexOf("\n", start)
    }
    this.rest = text.slice(start)
    return items
  }

  /** The exit the response ended with, or why it cannot be read. */
  end(): RpcMessage.ExitEncoded<unknown, unknown> | { readonly problem: string } {
    let text: string
    try {
      text = this.rest + (this.decoder?.decode() ?? "")
    } catch {
      return { problem: "the response is not UTF-8 text" }
    }
    if (text === "") return { _tag: "Success", value: null }
    const failure = failureOf(text)
    if (failure !== undefined) return failure
    const parsed = parseJson(text)
    return "problem" in parsed ? { problem: `its value is ${parsed.problem}` } : { _tag: "Success", value: parsed.value }
  }
}

/** The failure a response's last line names, if it names one. */
const failureOf = (text: string): RpcMessage.ExitEncoded<unknown, unknown> | { readonly problem: string } | undefined => {
  // JSON never starts with `fail `, `d` or `c`: a success cannot be taken for a failure.
  const prefix = text.startsWith(FAIL) ? FAIL : text.startsWith(DIE) ? DIE : text.startsWith(CAUSE) ? CAUSE : undefined
  if (prefix === undefined) return undefined
  const parsed = parseJson(text.slice(prefix.length))
  if ("problem" in parsed) return { problem: `its '${prefix.trim()}' line is ${parsed.problem}` }
  switch (prefix) {
    case FAIL:
      return { _tag: "Failure", cause: [{ _tag: "Fail", error: parsed.value }] }
    case DIE:
      return { _tag: "Failure", cause: [{ _tag: "Die", defect: parsed.value }] }
    default:
      return Array.isArray(parsed.value)
        ? { _tag: "Failure", cause: parsed.value }
        : { problem: `its 'cause' line is not a list: ${Json.clip(text, ECHOED)}` }
  }
}
