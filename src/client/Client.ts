/**
 * The client side of Simple IPC: probing a path, connecting with Git's
 * retry rules, and sending one request per connection.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Data from "effect/Data"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import * as fs from "node:fs"
import * as PktLine from "../framing/PktLine.ts"
import * as Tracing from "../internal/Tracing.ts"
import * as Connection from "../transport/Connection.ts"
import { close, open as openConnection, type OpenOptions, roundTrip, type SocketConnection } from "../transport/internal/socketConnection.ts"
import * as FileIdentity from "../transport/internal/fileIdentity.ts"
import type * as SocketPath from "../transport/SocketPath.ts"
import { errnoOf, NODE_READ_SIZE, toBytes } from "../internal/Bytes.ts"
import { isBusy, isPermissionDenied } from "../internal/Errno.ts"

/**
 * What is at a socket path, as Git's `ipc_get_active_state` answers it.
 *
 * @since 0.1.0
 * @category models
 */
export type ActiveState = "Listening" | "NotListening" | "InvalidPath" | "PathNotFound" | "OtherError"

/**
 * A connection could not be made. `reason` is the answer Git would give
 * (never `Listening`); `errno` the last system error, where there was one;
 * `cause` the failure underneath (the socket's error, or why a daemon
 * could not be started), where there was one.
 *
 * @since 0.1.0
 * @category errors
 */
export class ConnectError extends Data.TaggedError("ConnectError")<{
  readonly path: string
  readonly reason: "NotListening" | "InvalidPath" | "PathNotFound" | "OtherError"
  readonly errno?: string | undefined
  readonly detail?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    if (isPermissionDenied(this.errno)) {
      return `permission denied for '${this.path}' (${this.errno}): the socket, or a directory on its path, does not let this user connect`
    }
    switch (this.reason) {
      case "NotListening":
        return `no server listening at '${this.path}'`
      case "PathNotFound":
        return `path not found '${this.path}'`
      case "InvalidPath":
        return `invalid pipe/socket name '${this.path}'${this.detail ? `: ${this.detail}` : ""}`
      case "OtherError":
        return `other error for '${this.path}'${this.detail ? `: ${this.detail}` : ""}`
    }
  }
}

/**
 * The server did not answer in full within the request's `timeout`.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestTimeoutError extends Data.TaggedError("RequestTimeoutError")<{
  readonly path: string
  readonly timeoutMillis: number
}> {
  override get message(): string {
    return `no complete response from '${this.path}' within ${this.timeoutMillis} ms`
  }
}

/**
 * The ways a request can fail once connected: the connection broke
 * (`TransportError`), the response was malformed, too large or ended before its
 * flush (`PktLineError`), or it did not come in time
 * (`RequestTimeoutError`).
 *
 * @since 0.1.0
 * @category errors
 */
export type RequestError = Connection.TransportError | PktLine.PktLineError | RequestTimeoutError

/**
 * The largest response {@link request} collects by default (256 MiB of
 * payload); {@link requestStream} and {@link requestForEach} have no limit.
 */
const defaultMaxResponseBytes = 256 * 1024 * 1024

/**
 * @since 0.1.0
 * @category models
 */
export interface RequestOptions extends ConnectOptions {
  /**
   * The largest response {@link request} collects, in payload bytes
   * (pkt-line headers are not counted); a longer one fails with
   * `PktLineError` `MessageTooLarge` as soon as its payload passes the
   * limit. Whatever its packet sizes, collecting holds at most about twice
   * the limit plus 64 KiB. Default 256 MiB.
   */
  readonly maxResponseBytes?: number | undefined
  /**
   * For {@link request}, how long the whole round trip may take (connecting
   * included); for {@link requestStream} and {@link requestForEach}, how
   * long to wait for each next chunk, since a large stream may rightly take
   * long in all. Past it the connection is closed and the request fails
   * with {@link RequestTimeoutError}. Default: no limit.
   */
  readonly timeout?: Duration.Input | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  /** Retry while the server is busy or not accepting (ECONNREFUSED, a full backlog). */
  readonly waitIfBusy?: boolean | undefined
  /** Retry while the socket does not exist yet (a server that is starting). */
  readonly waitIfNotFound?: boolean | undefined
  /** Interval between attempts. Default 50 ms. */
  readonly retryInterval?: Duration.Input | undefined
  /** Total time allowed for attempts. Default 1 s. */
  readonly retryFor?: Duration.Input | undefined
}

/**
 * Whether an errno means "a socket is there but nobody accepts right now":
 * refused (no listener on the socket, or not yet), or a busy server. A
 * Windows pipe whose instances are all taken is busy, as Git's Windows
 * client counts it: Node waits for a free instance itself, and answers
 * `ETIMEDOUT` when none comes within 30 s (`EBUSY` should it not wait).
 */
const isNotListening = (errno: string) => errno === "ECONNREFUSED" || isBusy(errno)

const classify = (path: string, error: Connection.TransportError | SocketPath.SocketPathError): ConnectError => {
  if (error._tag === "SocketPathError") {
    return error.reason === "NameTooLong"
      ? new ConnectError({ path, reason: "InvalidPath", errno: "ENAMETOOLONG", detail: error.message, cause: error })
      : error.errno === "ENOENT" || error.errno === "ENOTDIR"
      ? new ConnectError({ path, reason: "PathNotFound", errno: error.errno, cause: error })
      : new ConnectError({ path, reason: "OtherError", ...(error.errno ? { errno: error.errno } : {}), detail: error.message, cause: error })
  }
  const errno = error.errno ?? "EIO"
  if (errno === "ENOENT") return new ConnectError({ path, reason: "PathNotFound", errno, cause: error })
  if (isNotListening(errno)) return new ConnectError({ path, reason: "NotListening", errno, cause: error })
  return new ConnectError({ path, reason: "OtherError", errno, detail: error.detail, cause: error })
}

/**
 * Connects to the server at `path`, following Git's rules: a missing socket
 * is `PathNotFound` and a socket nobody accepts on is `NotListening`, unless
 * the options say to wait for it; then the attempt is repeated every 50 ms
 * for up to 1 s, after which the answer is `NotListening`. Any other error
 * fails at once.
 *
 * A connection carries one request, as in Git: send it with
 * {@link sendCommand} or {@link sendCommandStream}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client } from "effect-simple-ipc"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     // Waits up to a second for a server that is starting.
 *     const connection = yield* Client.connect("/tmp/app.sock", { waitIfNotFound: true })
 *     const answer = yield* Client.sendCommand(connection, "ping")
 *     console.log(new TextDecoder().decode(answer))
 *   })
 * ) // the connection is closed with the scope
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  path: string,
  options?: ConnectOptions & Connection.ConnectOptions
): Effect.Effect<Connection.Connection, ConnectError, Scope.Scope> =>
  Effect.acquireRelease(open(path, options), close)


/**
 * Connects like {@link connect}, without a scope: the caller must destroy
 * the connection's socket. Interruptible even where it is acquired (as
 * resources are, uninterruptibly): waiting for a busy server may take a
 * second, and a connection attempt cut short closes its own socket.
 */
const open = (
  path: string,
  options?: ConnectOptions & OpenOptions
): Effect.Effect<SocketConnection, ConnectError> =>
  connecting(path, options, openConnection(path, options), (error) => classify(path, error))

/**
 * The client's view of a path, the same as {@link activeState}'s and the
 * server's: only a socket is connected to. Anything else there — a symbolic
 * link (even to a socket), a file, a directory — is `InvalidPath`, never
 * followed. Nothing there, or a path that cannot be looked at, is left for
 * the connection attempt to report.
 */
const refusal = (path: string): ConnectError | undefined => {
  let stats: fs.Stats | undefined
  try {
    stats = fs.lstatSync(path, { throwIfNoEntry: false })
  } catch {
    return undefined
  }
  return stats === undefined || stats.isSocket() ? undefined : invalidPath(path, stats)
}

const invalidPath = (path: string, stats: fs.Stats) =>
  new ConnectError({
    path,
    reason: "InvalidPath",
    detail: stats.isSymbolicLink()
      ? "it is a symbolic link, which is not followed; give the socket's own path"
      : `it is not a socket (${FileIdentity.kindOf(stats)})`
  })

/** `attempt`, once the path has been looked at (see {@link refusal}); named pipes have nothing to look at. */
const atSocket = <A, E>(path: string, attempt: Effect.Effect<A, E>): Effect.Effect<A, E | ConnectError> =>
  process.platform === "win32" ? attempt : Effect.suspend((): Effect.Effect<A, E | ConnectError> => {
    const refused = refusal(path)
    return refused === undefined ? attempt : Effect.fail(refused)
  })

/**
 * Runs `attempt`, a connection attempt or more, again while it fails with
 * a {@link ConnectError} (as `failure` makes of its errors) the options say
 * to wait out. Each attempt first looks at the path (see {@link refusal}).
 */
const connecting = <A, E0, E>(
  path: string,
  options: ConnectOptions | undefined,
  attempt: Effect.Effect<A, E0>,
  failure: (error: E0) => ConnectError | E
): Effect.Effect<A, ConnectError | E> => {
  if (options?.waitIfBusy !== true && options?.waitIfNotFound !== true) {
    return Effect.interruptible(atSocket(path, Effect.mapError(attempt, failure)))
  }
  // The retry policy is only built once a first attempt has failed: most
  // connections succeed at once, and building it costs several
  // microseconds per request. The first failure is mapped in the same
  // step that decides whether to retry.
  return Effect.interruptible(
    atSocket(
      path,
      Effect.catch(attempt, (raw) => {
        const error = failure(raw)
        return retryable(error, options)
          ? retrying(path, atSocket(path, Effect.mapError(attempt, failure)), options)
          : Effect.fail(error)
      })
    )
  )
}

/** Whether the options say to wait out `error`. */
const retryable = (error: unknown, options: ConnectOptions): boolean =>
  error instanceof ConnectError && (
    (error.reason === "NotListening" && options.waitIfBusy === true) ||
    (error.reason === "PathNotFound" && options.waitIfNotFound === true)
  )

/** Attempts again every `retryInterval`, for up to `retryFor` in all, while the options say to wait. */
const retrying = <A, E>(
  path: string,
  attempt: Effect.Effect<A, ConnectError | E>,
  options: ConnectOptions
): Effect.Effect<A, ConnectError | E> => {
  const waitOut = (error: ConnectError | E) => retryable(error, options)
  const interval = options.retryInterval ?? Duration.millis(50)
  const total = Duration.subtract(Duration.fromInputUnsafe(options.retryFor ?? Duration.seconds(1)), Duration.fromInputUnsafe(interval))
  return Effect.andThen(
    Effect.sleep(interval),
    attempt.pipe(
      Effect.retry({ schedule: Schedule.spaced(interval).pipe(Schedule.upTo({ duration: total })), while: waitOut }),
      // Git answers "not listening" when time runs out, whatever the last
      // attempt said; what it said is kept as the cause.
      Effect.mapError((error) =>
        error instanceof ConnectError && waitOut(error)
          ? new ConnectError({ path, reason: "NotListening", ...(error.errno ? { errno: error.errno } : {}), cause: error })
          : error
      )
    )
  )
}

/**
 * What is at `path`: `lstat` first (a missing path is `NotListening`, as
 * Git answers; something that is not a socket, a symbolic link included, is
 * `InvalidPath`, as it is for every request), then one connection attempt
 * without waiting, closed at once without sending anything.
 *
 * @since 0.1.0
 * @category running
 */
export const activeState = (path: string): Effect.Effect<ActiveState> =>
  Effect.suspend(() => {
    if (process.platform !== "win32") {
      let stats: fs.Stats
      try {
        stats = fs.lstatSync(path)
      } catch (error) {
        const errno = errnoOf(error)
        return Effect.succeed<ActiveState>(errno === "ENOENT" || errno === "ENOTDIR" ? "NotListening" : "InvalidPath")
      }
      if (!stats.isSocket()) return Effect.succeed<ActiveState>("InvalidPath")
    }
    // The path has just been looked at: the attempt itself, not connect's.
    return Effect.scoped(Connection.connect(path)).pipe(
      Effect.as<ActiveState>("Listening"),
      Effect.catch((error) => Effect.succeed<ActiveState>(classify(path, error).reason))
    )
  })

/**
 * Sends `request` on a connection and collects the response. The response
 * may be empty (a bare flush). A response that ends before its flush, or is
 * malformed, fails: a short response is never passed off as a whole one.
 *
 * @since 0.1.0
 * @category running
 */
export const sendCommand = (
  connection: Connection.Connection,
  request: Uint8Array | string
): Effect.Effect<Uint8Array, RequestError> =>
  Effect.andThen(
    Connection.writeMessage(connection, toBytes(request)),
    connection.readMessage({ maxBytes: defaultMaxResponseBytes })
  )

/**
 * Sends `request` on a connection and streams the response's payload
 * chunks as they arrive, for responses too large to hold.
 *
 * @since 0.1.0
 * @category running
 */
export const sendCommandStream = (
  connection: Connection.Connection,
  request: Uint8Array | string
): Stream.Stream<Uint8Array, RequestError> =>
  Stream.concat(
    Stream.fromEffectDrain(Connection.writeMessage(connection, toBytes(request))),
    connection.messageStream()
  )

/**
 * One round trip: connect (see {@link connect}), send, read the whole
 * response, close.
 *
 * @since 0.1.0
 * @category running
 */
export const request = (
  path: string,
  request: Uint8Array | string,
  options?: RequestOptions
): Effect.Effect<Uint8Array, ConnectError | RequestError> => {
  const send = PktLine.encodeMessageChunks(toBytes(request))
  const collect = { maxBytes: options?.maxResponseBytes ?? defaultMaxResponseBytes }
  return Tracing.traced("SimpleIpc.request", path, (spans) =>
    withTimeout(
      path,
      connecting(path, options, exchange(path, send, collect, spans), (error) =>
        error._tag === "SocketPathError" || (error._tag === "TransportError" && error.operation === "connect")
          ? classify(path, error)
          : error),
      options?.timeout
    ))
}

/**
 * One attempt at the whole exchange. With a tracer, connecting and the
 * exchange after it are spans of their own, made as the connection's
 * callbacks report them.
 */
const exchange = (
  path: string,
  send: ReadonlyArray<Uint8Array>,
  collect: PktLine.CollectOptions,
  spans: Tracing.HandSpans | undefined
) => {
  if (spans === undefined) return roundTrip(path, send, collect)
  return Effect.suspend(() => {
    const connect = spans.open("SimpleIpc.connect")
    let sending: Tracer.Span | undefined = undefined
    return roundTrip(path, send, collect, () => {
      spans.end(connect, Exit.void)
      sending = spans.open("SimpleIpc.send")
    }).pipe(Effect.onExit((exit) =>
      Effect.sync(() => {
        spans.end(connect, exit)
        spans.end(sending, exit)
      })
    ))
  })
}

const timedOut = (path: string, timeout: Duration.Input) =>
  new RequestTimeoutError({ path, timeoutMillis: Duration.toMillis(timeout) })

const withTimeout = <A, E, R>(path: string, effect: Effect.Effect<A, E, R>, timeout: Duration.Input | undefined) =>
  timeout === undefined ? effect : Effect.timeoutOrElse(effect, {
    duration: timeout,
    orElse: () => Effect.fail(timedOut(path, timeout))
  })

/**
 * One round trip whose response is a stream: the connection stays open
 * while the stream is read and closes when it ends or is interrupted.
 *
 * @since 0.1.0
 * @category running
 */
export const requestStream = (
  path: string,
  request: Uint8Array | string,
  options?: RequestOptions
): Stream.Stream<Uint8Array, ConnectError | RequestError> =>
  eachWithin(
    path,
    Stream.unwrap(
      Effect.map(
        connect(path, { ...options, send: PktLine.encodeMessageChunks(toBytes(request)) }),
        (connection) => connection.messageStream()
      )
    ),
    options?.timeout
  )

/** Fails a stream whose next chunk takes longer than `timeout`. */
const eachWithin = <A, E, R>(path: string, stream: Stream.Stream<A, E, R>, timeout: Duration.Input | undefined) =>
  timeout === undefined ? stream : Stream.timeoutOrElse(stream, {
    duration: timeout,
    orElse: () => Stream.fail(timedOut(path, timeout))
  })

/**
 * One round trip whose response is handed to `f` piece by piece as it
 * arrives, read into one buffer reused for every read. Nothing is allocated
 * per read, so memory stays flat however large the response, and no
 * garbage is left for the collector: the fastest way to consume a large
 * response.
 *
 * The price: a piece is a view of the read buffer, valid only until the
 * effect `f` returns completes. `f` must copy what it keeps
 * (`piece.slice()`); the next read waits until `f` is done. Where pieces
 * are to be kept, use {@link requestStream}, whose chunks are the
 * caller's. `timeout` bounds the wait for each next piece, as for
 * {@link requestStream}.
 *
 * @since 0.2.0
 * @category running
 */
export const requestForEach = <E, R>(
  path: string,
  request: Uint8Array | string,
  f: (piece: Uint8Array) => Effect.Effect<void, E, R>,
  options?: RequestOptions
): Effect.Effect<void, ConnectError | RequestError | E, R> =>
  Effect.acquireUseRelease(
    open(path, {
      ...options,
      send: PktLine.encodeMessageChunks(toBytes(request)),
      // A plain Uint8Array, not a Buffer: the pieces are its views, and
      // `piece.slice()` must copy, as it does for a Uint8Array.
      readBuffer: new Uint8Array(NODE_READ_SIZE)
    }),
    (connection) =>
      Stream.runForEach(
        eachWithin(path, Stream.fromPull(Effect.sync(() => connection.payloads({ lend: true }))), options?.timeout),
        f
      ),
    close
  )

/**
 * A client bound to one server path, as a service.
 *
 * @since 0.1.0
 * @category services
 */
export class IpcClient extends Context.Service<IpcClient, {
  readonly path: string
  readonly activeState: Effect.Effect<ActiveState>
  readonly request: (request: Uint8Array | string) => Effect.Effect<Uint8Array, ConnectError | RequestError>
  readonly requestStream: (request: Uint8Array | string) => Stream.Stream<Uint8Array, ConnectError | RequestError>
  readonly requestForEach: <E, R>(
    request: Uint8Array | string,
    f: (piece: Uint8Array) => Effect.Effect<void, E, R>
  ) => Effect.Effect<void, ConnectError | RequestError | E, R>
}>()("effect-simple-ipc/IpcClient") {}

/**
 * The {@link IpcClient} service for the server at `path`: {@link activeState},
 * {@link request}, {@link requestStream} and {@link requestForEach} bound to
 * it, each request with `options`. Also the transport of an RPC client
 * (`SimpleIpcRpc.makeProtocolClient`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client } from "effect-simple-ipc"
 *
 * const client = Client.make("/tmp/app.sock", { timeout: "5 seconds" })
 *
 * const program = Effect.gen(function*() {
 *   if ((yield* client.activeState) !== "Listening") return "no server"
 *   return new TextDecoder().decode(yield* client.request("ping"))
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (path: string, options?: RequestOptions): IpcClient["Service"] =>
  IpcClient.of({
    path,
    activeState: activeState(path),
    request: (bytes) => request(path, bytes, options),
    requestStream: (bytes) => requestStream(path, bytes, options),
    requestForEach: (bytes, f) => requestForEach(path, bytes, f, options)
  })

/**
 * A layer providing {@link IpcClient} for the server at `path` (see
 * {@link make}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client } from "effect-simple-ipc"
 *
 * // Written against the service: the layer decides which server it talks to.
 * const ping = Effect.gen(function*() {
 *   const client = yield* Client.IpcClient
 *   return new TextDecoder().decode(yield* client.request("ping"))
 * })
 *
 * const runnable = ping.pipe(Effect.provide(Client.layer("/tmp/app.sock")))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (path: string, options?: RequestOptions): Layer.Layer<IpcClient> =>
  Layer.succeed(IpcClient, make(path, options))
