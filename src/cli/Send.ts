/**
 * `send` and `sendbytes`: one request, its response on standard output,
 * and Git's messages when it fails.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Data from "effect/Data"
import type * as Stdio from "effect/Stdio"
import * as Client from "../client/Client.ts"
import * as PktLine from "../framing/PktLine.ts"
import * as Connection from "../transport/Connection.ts"
import * as Output from "./Output.ts"
import * as Probe from "./Probe.ts"
import * as Sendbytes from "../testing/Sendbytes.ts"

/**
 * Why a request failed: no connection, or the connection broke, or the
 * response was malformed or incomplete.
 *
 * @since 0.1.0
 * @category errors
 */
export type Failure =
  | Client.ConnectError
  | Client.RequestTimeoutError
  | Connection.TransportError
  | PktLine.PktLineError

/**
 * The lines Git's client prints about a failed request before its own
 * summary: the protocol error where there is one, then what failed. A
 * connection that could not be made, or a response that simply ended
 * early, prints no detail of its own.
 */
const detailLines = (failure: Failure): ReadonlyArray<string> => {
  switch (failure._tag) {
    case "ConnectError":
      return []
    case "RequestTimeoutError":
      return [failure.message, "could not read IPC response"]
    case "TransportError":
      return failure.operation === "write"
        ? ["could not send IPC command"]
        : failure.operation === "read"
        ? ["could not read IPC response"]
        : []
    case "PktLineError":
      return failure.reason === "UnexpectedEnd"
        ? ["could not read IPC response"]
        : [failure.message, "could not read IPC response"]
  }
}

/**
 * `send` failed. The message is what Git's tool prints, one line per
 * `error:` line.
 *
 * @since 0.1.0
 * @category errors
 */
export class SendError extends Data.TaggedError("SendError")<{
  readonly path: string
  readonly token: string
  readonly failure: Failure
}> {
  override get message(): string {
    return [...detailLines(this.failure), `failed to send '${this.token}' to '${this.path}'`].join("\n")
  }
}

/**
 * One `sendbytes` request failed. The message is what Git's tool prints,
 * one line per `error:` line.
 *
 * @since 0.1.0
 * @category errors
 */
export class SendbytesError extends Data.TaggedError("SendbytesError")<{
  readonly path: string
  readonly bytecount: number
  readonly byte: number
  readonly failure: Failure
}> {
  override get message(): string {
    const summary = `client failed to sendbytes(${this.bytecount}, '${String.fromCharCode(this.byte)}') to '${this.path}'`
    return [...detailLines(this.failure), summary].join("\n")
  }
}

/**
 * How Git's tool connects for a request: it waits while the server is busy,
 * but not for a socket that does not exist.
 *
 * @since 0.1.0
 * @category requests
 */
export const connectOptions: Client.ConnectOptions = { waitIfBusy: true, waitIfNotFound: false }

const NEWLINE = new Uint8Array([10])

/**
 * Sends `token` to the server at `path` (which must be listening) and
 * writes the response's bytes, exactly, to standard output, followed by a
 * newline when the response is not empty.
 *
 * @since 0.1.0
 * @category commands
 */
export const send = (options: {
  readonly name: string
  readonly token: string
}): Effect.Effect<void, Client.ConnectError | SendError | Output.OutputError, Stdio.Stdio> =>
  Effect.gen(function*() {
    yield* Probe.requireListening(options.name)
    const response = yield* Client.request(options.name, options.token, connectOptions).pipe(
      Effect.mapError((failure) => new SendError({ path: options.name, token: options.token, failure }))
    )
    if (response.length > 0) yield* Output.stdout(response, NEWLINE)
  })

/** `sendbytes ` followed by `bytecount` copies of `byte`. */
const ballast = (bytecount: number, byte: number): Uint8Array => {
  const request = Buffer.alloc(Sendbytes.SENDBYTES.length + bytecount, byte)
  request.write(Sendbytes.SENDBYTES, "latin1")
  return request
}

/** Git's `strbuf_rtrim`: its `isspace` is space, tab, newline and carriage return. */
const trimEnd = (bytes: Uint8Array): Uint8Array => {
  let end = bytes.length
  while (end > 0 && (bytes[end - 1] === 0x20 || bytes[end - 1] === 0x09 || bytes[end - 1] === 0x0a || bytes[end - 1] === 0x0d)) end--
  return bytes.subarray(0, end)
}

/**
 * One `sendbytes` round trip, answered with the line Git's tool prints:
 * `sent:<byte><bytecount as %08d> <response without trailing whitespace>`
 * and a newline, as bytes.
 *
 * @since 0.1.0
 * @category requests
 */
export const sendbytesLine = (path: string, bytecount: number, byte: number): Effect.Effect<Uint8Array, SendbytesError> =>
  Client.request(path, ballast(bytecount, byte), connectOptions).pipe(
    Effect.map((response) =>
      Buffer.concat([
        Buffer.from("sent:", "latin1"),
        Buffer.of(byte),
        Buffer.from(`${String(bytecount).padStart(8, "0")} `, "latin1"),
        trimEnd(response),
        NEWLINE
      ])
    ),
    Effect.mapError((failure) => new SendbytesError({ path, bytecount, byte, failure }))
  )

/**
 * Sends `bytecount` copies of `byte` to the server at `path` (which must be
 * listening) and prints the `sent:` line.
 *
 * @since 0.1.0
 * @category commands
 */
export const sendbytes = (options: {
  readonly name: string
  readonly bytecount: number
  readonly byte: number
}): Effect.Effect<void, Client.ConnectError | SendbytesError | Output.OutputError, Stdio.Stdio> =>
  Effect.gen(function*() {
    yield* Probe.requireListening(options.name)
    yield* Output.stdout(yield* sendbytesLine(options.name, options.bytecount, options.byte))
  })
