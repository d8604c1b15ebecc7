/**
 * Asking a server about itself: who it is (its {@link Identity}) and how it
 * is doing (its {@link Status}). A server answers these only when started
 * with the `identity` or `status` option (see `Server.Options`); the
 * requests are reserved byte strings that none of Git's clients can send
 * (they begin with a NUL byte), and a server without the option passes
 * them to its application like any other request.
 *
 * On the wire: the request is exactly `\0simple-ipc-control\0identity` or
 * `\0simple-ipc-control\0status`; the answer is one JSON object, the
 * encoding of {@link Identity} or {@link Status}. Whatever else comes back
 * (the application's own answer to a request it does not know) means the
 * server does not answer it.
 *
 * @since 0.2.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Control from "../internal/Control.ts"
import * as ByteClient from "./Client.ts"

/**
 * Who a server says it is: what its author declared (`name`, `version`,
 * `protocol`, a protocol or build id) and what the server adds (`pid`,
 * `startedAt`, milliseconds since the epoch).
 *
 * @since 0.2.0
 * @category schemas
 */
export const Identity = Schema.Struct({
  name: Schema.String,
  version: Schema.String,
  protocol: Schema.String,
  pid: Schema.Int,
  startedAt: Schema.Number
})

/**
 * @since 0.2.0
 * @category models
 */
export type Identity = typeof Identity.Type

/**
 * What a server's author declares of its {@link Identity}; the server adds
 * its pid and start time.
 *
 * @since 0.2.0
 * @category models
 */
export type Declared = Pick<Identity, "name" | "version" | "protocol">

const count = Schema.Int

/**
 * A server's status, as the status control request answers it.
 *
 * - `identity`: the server's {@link Identity}, `null` if it declares none.
 * - `pid`, `socket`: its process and the path it listens at.
 * - `uptimeMillis`: how long it has been listening.
 * - `connections`: connections open now (`open`), and of them requests
 *   being read (`reading`), waiting for a place (`queued`) and being
 *   served (`running`); the status request itself is not counted.
 * - `counters`: the server's {@link ServerMetrics} counters since it
 *   started: connections `accepted`, requests `served`, connections
 *   `dropped` (in all and by reason), payload `bytesIn` and `bytesOut`.
 * - `logPath`: the file the daemon's output goes to, if it named one.
 *
 * @since 0.2.0
 * @category schemas
 */
export const Status = Schema.Struct({
  identity: Schema.NullOr(Identity),
  pid: Schema.Int,
  socket: Schema.String,
  uptimeMillis: Schema.Number,
  connections: Schema.Struct({ open: count, reading: count, queued: count, running: count }),
  counters: Schema.Struct({
    accepted: count,
    served: count,
    dropped: count,
    droppedByReason: Schema.Record(Schema.String, count),
    bytesIn: count,
    bytesOut: count
  }),
  logPath: Schema.NullOr(Schema.String)
})

/**
 * @since 0.2.0
 * @category models
 */
export type Status = typeof Status.Type

/**
 * The server answered a control request, but not as one that serves it:
 * it was not started with that option (its application answered instead).
 * `answer` is the start of what came back.
 *
 * @since 0.2.0
 * @category errors
 */
export class ControlError extends Data.TaggedError("ControlError")<{
  readonly path: string
  readonly request: "identity" | "status"
  readonly reason: "Unsupported"
  readonly answer: string
}> {
  override get message(): string {
    return `the server at '${this.path}' does not answer ${this.request} requests (it was not started with the '${this.request}' option); it answered ${
      JSON.stringify(this.answer)
    }`
  }
}

/** A control answer is one small JSON object; anything larger is the application's. */
const maxAnswerBytes = 1024 * 1024

const decodeIdentity = Schema.decodeUnknownOption(Schema.fromJsonString(Identity))
const decodeStatus = Schema.decodeUnknownOption(Schema.fromJsonString(Status))

/**
 * Asks `verb` and decodes the answer; `None` when the server answered
 * something else, or broke off its answer (an application that fails on a
 * request it does not know). Connecting failures and a timeout are the
 * caller's to handle.
 */
const ask = <A>(
  path: string,
  verb: Control.Verb,
  decode: (text: string) => Option.Option<A>,
  options: ByteClient.RequestOptions | undefined
) =>
  ByteClient.request(path, Control.request(verb), { ...options, maxResponseBytes: maxAnswerBytes }).pipe(
    Effect.map((bytes) => {
      const answer = Buffer.from(bytes).toString("utf8")
      return { answer, decoded: decode(answer) }
    }),
    Effect.catchTag(["TransportError", "PktLineError"], (error) =>
      Effect.succeed({ answer: `(no complete answer: ${error.message})`, decoded: Option.none<A>() }))
  )

/**
 * The identity of the server at `path`; `None` when it declares none (it
 * was not started with the `identity` option, or predates it).
 *
 * @example
 * ```ts
 * import { Effect, Option } from "effect"
 * import { Control } from "effect-simple-ipc"
 *
 * const program = Effect.gen(function*() {
 *   const identity = yield* Control.identity("/tmp/app.sock")
 *   console.log(Option.match(identity, { onNone: () => "unknown", onSome: (i) => `${i.name} ${i.version}` }))
 * })
 * ```
 *
 * @since 0.2.0
 * @category requests
 */
export const identity = (
  path: string,
  options?: ByteClient.RequestOptions
): Effect.Effect<Option.Option<Identity>, ByteClient.ConnectError | ByteClient.RequestTimeoutError> =>
  Effect.map(ask(path, "identity", decodeIdentity, options), ({ decoded }) => decoded)

/**
 * The status of the server at `path`; fails with {@link ControlError} when
 * it does not answer status requests.
 *
 * @since 0.2.0
 * @category requests
 */
export const status = (
  path: string,
  options?: ByteClient.RequestOptions
): Effect.Effect<Status, ByteClient.ConnectError | ByteClient.RequestTimeoutError | ControlError> =>
  Effect.flatMap(ask(path, "status", decodeStatus, options), ({ answer, decoded }) =>
    Option.match(decoded, {
      onNone: () =>
        Effect.fail(new ControlError({ path, request: "status", reason: "Unsupported", answer: answer.slice(0, 80) })),
      onSome: Effect.succeed
    }))

/**
 * An identity as one line: `name version (protocol p, pid n)`, or
 * `unknown` for a server that declares none.
 *
 * @since 0.2.0
 * @category formatting
 */
export const formatIdentity = (identity: Identity | Declared | undefined): string =>
  identity === undefined
    ? "unknown (the server declares no identity)"
    : `${identity.name} ${identity.version} (protocol ${identity.protocol}${"pid" in identity ? `, pid ${identity.pid}` : ""})`
