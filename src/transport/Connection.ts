/**
 * One Unix-domain-socket connection as a scoped Effect resource: a pull-based
 * reader with back-pressure, writes that wait for the socket to drain, and a
 * half-close that waits until everything written has left the process.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Data from "effect/Data"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import * as PktLine from "../framing/PktLine.ts"
import type * as SocketPath from "./SocketPath.ts"
import * as internal from "./internal/socketConnection.ts"

/**
 * A socket operation failed: the peer went away while we wrote (`EPIPE`,
 * `ECONNRESET`), the connection was closed, or the system refused.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportError extends Data.TaggedError("TransportError")<{
  readonly path: string
  readonly operation: "connect" | "read" | "write"
  readonly errno?: string | undefined
  /** What went wrong, in words (the system's message). */
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `${this.operation} on '${this.path}' failed: ${this.detail}${this.errno ? ` (${this.errno})` : ""}`
  }
}

/**
 * A connection to a Simple IPC peer: what a client holds between connecting
 * and closing (see `Client.connect`). Its operations are methods: call them
 * on the connection (`connection.write(...)`), not detached from it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  /** The socket path this connection belongs to, for error messages. */
  readonly path: string
  /**
   * Reads the first message the peer sends into one buffer, decoding each
   * piece as it arrives. Input that ends before the message does is an
   * error, as is a message longer than `maxBytes`; bytes after the message
   * are left unread.
   */
  readMessage(options?: PktLine.CollectOptions): Effect.Effect<Uint8Array, TransportError | PktLine.PktLineError>
  /**
   * The first message the peer sends, as a stream of payload chunks, which
   * follow the socket's reads (a read's small payloads joined), not the
   * packets. The stream ends at the message's end; input that ends first
   * fails with `UnexpectedEnd`. Read it once.
   */
  messageStream(): Stream.Stream<Uint8Array, TransportError | PktLine.PktLineError>
  /** Writes buffers in order, as one batch; waits while too much is still to go out. */
  write(chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, TransportError>
  /**
   * Writes `last` (if given) and half-closes our side, waiting until
   * everything written has been handed to the kernel (not for the
   * shutdown itself: closing the socket afterwards loses nothing).
   */
  end(last?: Uint8Array): Effect.Effect<void, TransportError>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  /**
   * Bytes to send as soon as the connection is up. Handing them to the
   * socket with the connect request saves a turn of the event loop per
   * round trip; if the connection fails they are discarded with it.
   */
  readonly send?: ReadonlyArray<Uint8Array> | undefined
}

/**
 * Connects to the socket at `path` for the life of the scope, without
 * waiting or retrying: the caller decides what a refusal means. Fails with
 * the errno of the attempt (`ENOENT`, `ECONNREFUSED`, `EAGAIN` when the
 * backlog is full, ...). `Client.connect` adds Git's retry rules.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Connection } from "effect-simple-ipc"
 *
 * const ping = Effect.scoped(
 *   Effect.gen(function*() {
 *     const connection = yield* Connection.connect("/tmp/demo.sock")
 *     yield* Connection.writeMessage(connection, new TextEncoder().encode("ping"))
 *     return yield* connection.readMessage() // the response's payload
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  path: string,
  options?: ConnectOptions
): Effect.Effect<Connection, TransportError | SocketPath.SocketPathError, Scope.Scope> =>
  Effect.acquireRelease(internal.open(path, options), internal.close)

/**
 * Sends one whole message: its data packets, then a flush.
 *
 * @since 0.1.0
 * @category combinators
 */
export const writeMessage = (connection: Connection, message: Uint8Array): Effect.Effect<void, TransportError> =>
  connection.write(PktLine.encodeMessageChunks(message))

