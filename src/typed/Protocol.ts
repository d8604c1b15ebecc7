/**
 * Typed commands over Simple IPC. A protocol is a set of commands, each with
 * a name and `effect/Schema` schemas for its payload (what a request
 * carries), its success (the response, or the items of a streamed one) and
 * the failures it declares, named as effect/rpc names them
 * (`Rpc.make(tag, { payload, success, error, stream })`). Both sides of a
 * connection share the wire encoding defined here.
 *
 * The encoding is plain text, so that Git's client, the `simple-ipc`
 * command line and scripts can still talk to a typed server:
 *
 * - Request: the command name, a space, then the payload as JSON:
 *   `add {"a":1,"b":2}`. A request whose payload's JSON is `null` (a
 *   command without a payload) is the name alone: `status`.
 * - Response: the success value as JSON (`3`), or nothing when it is `null`.
 * - Streamed response: one JSON value per line (NDJSON); each chunk of the
 *   handler's stream is sent as it is produced, and the client decodes the
 *   lines as they arrive.
 * - A failure the command declares ends the response with the line
 *   `fail <JSON of the error>`.
 * - A request the server cannot serve (unknown command, bad JSON, a value
 *   that does not match the schema) and a handler that died end it with
 *   `error <JSON of an IpcError>`, e.g.
 *   `error {"_tag":"IpcError","reason":"UnknownCommand","command":"nope",...}`.
 *
 * JSON values never start with `e` or with `fail `, so these lines cannot
 * be mistaken for a response. JSON nested deeper than {@link maxJsonDepth}
 * is refused before it is decoded (`InvalidRequest`, `InvalidResponse`),
 * and what a request sent is echoed in an error only as a short prefix.
 * Values are encoded with `Schema.toCodecJson`, so dates, big integers,
 * options and classes travel in their JSON form.
 * Fields a side does not know are ignored when decoding: a server may add
 * response fields without breaking older clients.
 *
 * Commands defined here are served and called by `TypedServer` and
 * `TypedClient`, which are retired in favour of effect/rpc over Simple IPC
 * (`SimpleIpcRpc`): new code declares an `RpcGroup` instead. This module
 * stays, unchanged, until the next minor version; the changelog has the
 * migration.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as Json from "../rpc/internal/json.ts"

/**
 * A schema that can cross the wire: encoding and decoding need no services.
 *
 * @since 0.1.0
 * @category models
 */
export type Codec = Schema.Top & {
  readonly DecodingServices: never
  readonly EncodingServices: never
}

/**
 * One command of a protocol. With `stream: true`, `success` is the schema
 * of each item of the response stream.
 *
 * @since 0.1.0
 * @category models
 */
export interface Command<
  out Name extends string = string,
  out Payload extends Codec = Codec,
  out Success extends Codec = Codec,
  out Failure extends Codec = Codec,
  out Streaming extends boolean = boolean
> {
  readonly name: Name
  readonly payload: Payload
  readonly success: Success
  readonly error: Failure
  readonly stream: Streaming
}

/**
 * Any command.
 *
 * @since 0.1.0
 * @category models
 */
export type AnyCommand = Command<string, Codec, Codec, Codec, boolean>

/**
 * The payload type of a command: what its requests carry.
 *
 * @since 0.2.0
 * @category utility types
 */
export type PayloadOf<C extends AnyCommand> = C["payload"]["Type"]

/**
 * The success type of a command (the item type of a streamed one).
 *
 * @since 0.2.0
 * @category utility types
 */
export type SuccessOf<C extends AnyCommand> = C["success"]["Type"]

/**
 * The failures a command declares.
 *
 * @since 0.2.0
 * @category utility types
 */
export type ErrorOf<C extends AnyCommand> = C["error"]["Type"]

const NAME = /^[^\s]+$/

/**
 * Defines a command, with the options effect/rpc's `Rpc.make` takes:
 * `payload` (what a request carries; default `Schema.Void`, none),
 * `success` (the response, or with `stream: true` each item of a streamed
 * one; default `Schema.Void`) and `error` (the failures it declares;
 * default `Schema.Never`). The name is what goes on the wire; it may not
 * contain whitespace.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-simple-ipc"
 *
 * class DivideByZero extends Schema.TaggedError<DivideByZero>()("DivideByZero", {}) {}
 *
 * const Divide = Protocol.command("divide", {
 *   payload: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
 *   success: Schema.Number,
 *   error: DivideByZero
 * })
 * const Count = Protocol.command("count", {
 *   payload: Schema.Struct({ to: Schema.Int }),
 *   success: Schema.Int,
 *   stream: true
 * })
 * const Status = Protocol.command("status", { success: Schema.String })
 * ```
 *
 * @deprecated Retired in favour of effect/rpc: declare the RPC with `Rpc.make` from `effect/rpc` (same options).
 * @since 0.1.0
 * @category constructors
 */
export const command = <
  const Name extends string,
  Payload extends Codec = Schema.Void,
  Success extends Codec = Schema.Void,
  Failure extends Codec = Schema.Never,
  const Streaming extends boolean = false
>(name: Name, options?: {
  readonly payload?: Payload | undefined
  readonly success?: Success | undefined
  readonly error?: Failure | undefined
  readonly stream?: Streaming | undefined
}): Command<Name, Payload, Success, Failure, Streaming> => {
  // Names are fixed by the program, not by input: a bad one is a bug to
  // report at definition time, like an invalid schema.
  if (!NAME.test(name)) {
    throw new TypeError(`invalid command name ${JSON.stringify(name)}: it must be non-empty, without whitespace`)
  }
  return {
    name,
    payload: (options?.payload ?? Schema.Void) as Payload,
    success: (options?.success ?? Schema.Void) as Success,
    error: (options?.error ?? Schema.Never) as Failure,
    stream: (options?.stream ?? false) as Streaming
  }
}

/**
 * A set of commands with distinct names.
 *
 * @since 0.1.0
 * @category models
 */
export interface Protocol<out C extends AnyCommand> {
  readonly commands: ReadonlyArray<C>
  /** The command with this wire name, if any. */
  readonly get: (name: string) => C | undefined
}

/**
 * Any protocol.
 *
 * @since 0.1.0
 * @category models
 */
export type AnyProtocol = Protocol<AnyCommand>

/**
 * The commands of a protocol, as a union.
 *
 * @since 0.1.0
 * @category utility types
 */
export type Commands<P extends AnyProtocol> = P extends Protocol<infer C> ? C : never

/**
 * Groups commands into a protocol, served by {@link TypedServer} and called
 * through {@link TypedClient}. Command names must differ.
 *
 * @example
 * ```ts
 * import { Schema } from "effect"
 * import { Protocol } from "effect-simple-ipc"
 *
 * const KeyValue = Protocol.make(
 *   Protocol.command("get", { payload: Schema.String, success: Schema.NullOr(Schema.String) }),
 *   Protocol.command("set", { payload: Schema.Struct({ key: Schema.String, value: Schema.String }) }),
 *   Protocol.command("keys", { success: Schema.String, stream: true })
 * )
 * ```
 *
 * @deprecated Retired in favour of effect/rpc: group the RPCs with `RpcGroup.make` from `effect/rpc`.
 * @since 0.1.0
 * @category constructors
 */
export const make = <const Cs extends ReadonlyArray<AnyCommand>>(...commands: Cs): Protocol<Cs[number]> => {
  const byName = new Map<string, Cs[number]>()
  for (const c of commands) {
    if (byName.has(c.name)) throw new TypeError(`duplicate command name '${c.name}'`)
    byName.set(c.name, c)
  }
  return { commands, get: (name) => byName.get(name) }
}

/**
 * A typed request could not be served or understood.
 *
 * - `UnknownCommand`: the server has no command of that name (an older
 *   server, or a typo in a hand-written request).
 * - `InvalidRequest`: the server could not decode the request: not UTF-8,
 *   not JSON, nested too deeply, or not what the command's payload schema
 *   accepts.
 * - `InvalidResponse`: the client could not decode the response: not in the
 *   wire format, or not what the command's schemas accept (an older or
 *   newer server whose schema differs).
 * - `EncodeFailed`: a value did not satisfy its own schema when encoded.
 * - `HandlerFailed`: the server's handler died, or failed with an error its
 *   command does not declare.
 *
 * The server sends this error on the wire as `error <JSON>`; the client
 * decodes it back into this class.
 *
 * @since 0.1.0
 * @category errors
 */
export class IpcError extends Schema.TaggedError<IpcError>()("IpcError", {
  reason: Schema.Literals(["UnknownCommand", "InvalidRequest", "InvalidResponse", "EncodeFailed", "HandlerFailed"]),
  command: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    switch (this.reason) {
      case "UnknownCommand":
        return `the server does not know the command '${this.command}' (${this.detail}); is it an older version?`
      case "InvalidRequest":
        return `the server could not decode the request for '${this.command}': ${this.detail}`
      case "InvalidResponse":
        return `could not decode the response to '${this.command}': ${this.detail}`
      case "EncodeFailed":
        return `could not encode ${this.detail}`
      case "HandlerFailed":
        return `the handler of '${this.command}' failed: ${this.detail}`
    }
  }
}

/**
 * How deeply the JSON of a message may nest (arrays and objects) to be
 * decoded. Decoding a recursive schema takes stack for every level: a
 * request nested ten thousand deep would exhaust it. Deeper JSON is refused
 * with an {@link IpcError} before decoding, whatever the schema.
 *
 * @since 0.2.0
 * @category constants
 */
export const maxJsonDepth = Json.maxJsonDepth

/**
 * Whether `error`, thrown by a Schema codec or JSON.stringify, is the
 * stack running out: a value nested too deeply for this schema, even under
 * {@link maxJsonDepth}, as a heavy recursive schema may be. Schema reports
 * it as an error whose cause holds the RangeError.
 */
const isStackExhausted = (error: unknown): boolean => {
  const thrown = error instanceof Error && Cause.isCause(error.cause) ? Cause.squash(error.cause) : error
  return thrown instanceof RangeError && thrown.message.includes("call stack")
}

const TOO_DEEP = "nested too deeply to decode"

/** The longest command name echoed in an error. */
const ECHOED_NAME = 64
/** The longest request text or Schema issue echoed in an error. */
const ECHOED_TEXT = 1000

const formatIssue = SchemaIssue.makeFormatterDefault()

const jsonCodecs = new WeakMap<Codec, Codec>()

/** The JSON form of a schema, derived once per schema. */
const jsonCodec = (schema: Codec): Codec => {
  let codec = jsonCodecs.get(schema)
  if (codec === undefined) {
    codec = Schema.toCodecJson(schema) as Codec
    jsonCodecs.set(schema, codec)
  }
  return codec
}

/** Encodes a value as JSON text, or describes why it cannot be. */
const toJson = (schema: Codec, value: unknown): Result.Result<string, string> => {
  try {
    return Result.mapBoth(Schema.encodeUnknownResult(jsonCodec(schema))(value), {
      onSuccess: (encoded) => JSON.stringify(encoded),
      onFailure: (error) => formatIssue(error.issue)
    })
  } catch (error) {
    if (isStackExhausted(error)) return Result.fail("the value is nested too deeply to encode")
    throw error
  }
}

/** Decodes JSON text (empty text is `null`), or describes why it cannot be. */
const fromJson = <S extends Codec>(schema: S, text: string): Result.Result<S["Type"], string> => {
  let parsed: unknown = null
  if (text.trim() !== "") {
    if (Json.nestsDeeperThan(text, maxJsonDepth)) return Result.fail(`${TOO_DEEP}: JSON nested more than ${maxJsonDepth} deep`)
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      return Result.fail(`not valid JSON (${Json.clip((error as Error).message, ECHOED_TEXT)}): ${Json.clip(text, 200)}`)
    }
  }
  try {
    return Result.mapError(
      Schema.decodeUnknownResult(jsonCodec(schema), { errors: "all" })(parsed),
      (error) =>
        Json.clip(text.trim() === "" ? `no JSON given (read as null): ${formatIssue(error.issue)}` : formatIssue(error.issue), ECHOED_TEXT)
    )
  } catch (error) {
    if (isStackExhausted(error)) return Result.fail(`${TOO_DEEP}: the stack ran out`)
    throw error
  }
}

const encoder = new TextEncoder()
const utf8 = new TextDecoder("utf-8", { fatal: true })

/** Bytes as UTF-8 text, or `undefined` when they are not UTF-8. */
const decodeUtf8 = (bytes: Uint8Array): string | undefined => {
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

const encodeFailed = (command: AnyCommand, what: string, issue: string) =>
  new IpcError({ reason: "EncodeFailed", command: command.name, detail: `${what} of '${command.name}': ${issue}` })

/**
 * The request bytes for a command: `<name> <JSON>`, or `<name>` when the
 * payload's JSON is `null`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeRequest = <C extends AnyCommand>(command: C, payload: PayloadOf<C>): Effect.Effect<Uint8Array, IpcError> =>
  Result.match(toJson(command.payload, payload), {
    onSuccess: (json) => Effect.succeed(encoder.encode(json === "null" ? command.name : `${command.name} ${json}`)),
    onFailure: (issue) => Effect.fail(encodeFailed(command, "the request", issue))
  })

/** The command name, then optional whitespace-separated JSON. */
const REQUEST = /^(\S*)(?:\s+([\s\S]*))?$/

/**
 * Decodes a request received by a server: finds the command by name and
 * decodes its JSON with the command's payload schema.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeRequest = <C extends AnyCommand>(
  protocol: Protocol<C>,
  bytes: Uint8Array
): Effect.Effect<{ readonly command: C; readonly payload: PayloadOf<C> }, IpcError> => {
  const text = decodeUtf8(bytes)
  if (text === undefined) {
    return Effect.fail(new IpcError({ reason: "InvalidRequest", command: "", detail: "the request is not UTF-8 text" }))
  }
  const [, name = "", json = ""] = REQUEST.exec(text) ?? []
  const command = protocol.get(name)
  if (command === undefined) {
    const known = protocol.commands.map((c) => c.name).join(", ")
    return Effect.fail(
      new IpcError({ reason: "UnknownCommand", command: Json.clip(name, ECHOED_NAME), detail: `known commands: ${known}` })
    )
  }
  return Result.match(fromJson(command.payload, json), {
    onSuccess: (payload) => Effect.succeed({ command, payload }),
    onFailure: (issue) => Effect.fail(new IpcError({ reason: "InvalidRequest", command: name, detail: issue }))
  })
}

/**
 * The text of a successful unary response: its JSON, or nothing when that
 * is `null`.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeResponse = <C extends AnyCommand>(command: C, success: SuccessOf<C>): Result.Result<string, IpcError> =>
  Result.mapBoth(toJson(command.success, success), {
    onSuccess: (json) => json === "null" ? "" : json,
    onFailure: (issue) => encodeFailed(command, "the response", issue)
  })

/**
 * The text of some items of a streamed response: one JSON line each.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeItems = <C extends AnyCommand>(
  command: C,
  items: ReadonlyArray<SuccessOf<C>>
): Result.Result<string, IpcError> => {
  let text = ""
  for (const item of items) {
    const json = toJson(command.success, item)
    if (Result.isFailure(json)) return Result.fail(encodeFailed(command, "a response item", json.failure))
    text += `${json.success}\n`
  }
  return Result.succeed(text)
}

/**
 * The line that ends a response with an {@link IpcError}. Like a failure
 * line, it has no newline of its own: it is the last line of a response,
 * and a unary response printed as it is reads as one line.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeError = (error: IpcError): string => `error ${Result.getOrThrow(toJson(IpcError, error))}`

/**
 * The line that ends a response with a failure the command declares, or an
 * error line if the failure does not satisfy the command's error schema.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeFailure = <C extends AnyCommand>(command: C, failure: ErrorOf<C>): string =>
  Result.match(toJson(command.error, failure), {
    onSuccess: (json) => `fail ${json}`,
    onFailure: (issue) => {
      const detail = `an error the command does not declare: ${issue}`
      return encodeError(new IpcError({ reason: "HandlerFailed", command: command.name, detail }))
    }
  })

const ERROR_PREFIX = "error "
const FAIL_PREFIX = "fail "

const invalidResponse = (command: AnyCommand, detail: string) =>
  new IpcError({ reason: "InvalidResponse", command: command.name, detail })

/**
 * Decodes one reply received by a client: a whole unary response, or one
 * line of a streamed one. `error` and `fail` lines become failures.
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeReply = <C extends AnyCommand>(
  command: C,
  text: string
): Effect.Effect<SuccessOf<C>, ErrorOf<C> | IpcError> => {
  if (text.startsWith(ERROR_PREFIX)) {
    return Result.match(fromJson(IpcError, text.slice(ERROR_PREFIX.length)), {
      onSuccess: (error) => Effect.fail(error),
      onFailure: (issue) => Effect.fail(invalidResponse(command, `an error reply that is not an IpcError: ${issue}`))
    })
  }
  if (text.startsWith(FAIL_PREFIX)) {
    return Result.match(fromJson(command.error, text.slice(FAIL_PREFIX.length)), {
      onSuccess: (failure) => Effect.fail(failure),
      onFailure: (issue) => Effect.fail(invalidResponse(command, `a failure the command does not declare: ${issue}`))
    })
  }
  return Result.match(fromJson(command.success, text), {
    onSuccess: (success) => Effect.succeed(success),
    onFailure: (issue) => Effect.fail(invalidResponse(command, issue))
  })
}

/**
 * Decodes a whole unary response received by a client (see
 * {@link decodeReply}).
 *
 * @since 0.1.0
 * @category decoding
 */
export const decodeResponse = <C extends AnyCommand>(
  command: C,
  bytes: Uint8Array
): Effect.Effect<SuccessOf<C>, ErrorOf<C> | IpcError> => {
  const text = decodeUtf8(bytes)
  return text === undefined
    ? Effect.fail(invalidResponse(command, "the response is not UTF-8 text"))
    : decodeReply(command, text)
}
