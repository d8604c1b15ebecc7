/**
 * The server side of Simple IPC: a pool of workers serving one request per
 * connection, with Git's lifecycle (asynchronous stop, await, run) built as
 * fibers in the server's scope.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Pull from "effect/Pull"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as net from "node:net"
import * as PktLine from "../framing/PktLine.ts"
import * as Tracing from "../internal/Tracing.ts"
import * as Connection from "../transport/Connection.ts"
import * as Listener from "../transport/Listener.ts"
import * as ServerMetrics from "./ServerMetrics.ts"
import type * as Lockfile from "../transport/Lockfile.ts"
import type * as SocketPath from "../transport/SocketPath.ts"
import { toBytes } from "../internal/Bytes.ts"

/**
 * What a handler returns to ask the server to shut down after this
 * response.
 *
 * @since 0.1.0
 * @category models
 */
export const Quit = "quit" as const

/**
 * Sends part of the response at once, as one or more data packets; an empty
 * chunk sends nothing. Waits while the client is slow to read.
 *
 * @since 0.1.0
 * @category models
 */
export type Reply = (chunk: Uint8Array | string) => Effect.Effect<void, Connection.SocketError>

/**
 * The application: called once per well-formed request with the request's
 * bytes and a {@link Reply} it may call any number of times (zero
 * included). When it returns, the server ends the response with a flush and
 * closes the connection. Returning {@link Quit} then stops the server.
 *
 * A handler that fails or dies ends its own connection without a flush (the
 * client sees an incomplete response, not a short one); the error is logged
 * and the server goes on.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler<E = never, R = never> = (
  request: Uint8Array,
  reply: Reply
) => Effect.Effect<void | typeof Quit, E, R>

/**
 * A handler from a function that answers each request with a stream of
 * response chunks; each chunk goes to the wire as it is produced.
 *
 * @since 0.1.0
 * @category constructors
 */
export const streamHandler = <E, R>(
  f: (request: Uint8Array) => Stream.Stream<Uint8Array, E, R>
): Handler<E | Connection.SocketError, R> =>
(request, reply) => Stream.runForEach(f(request), reply)

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends Omit<Listener.Options, "onAccept"> {
  /** How many requests are served at once (Git's `nr_threads`). Default 5, at least 1. */
  readonly threads?: number | undefined
  /** Accepted connections waiting for a worker; a connection beyond it is closed at once. Default `threads × 100`. */
  readonly queueCapacity?: number | undefined
  /** How long a stop lets in-flight responses run before interrupting them. Default 30 s. */
  readonly gracePeriod?: Duration.Input | undefined
  /**
   * The largest request accepted. A longer one is dropped (the connection
   * closed, the handler never called) and the reason logged. Default 64 MiB.
   */
  readonly maxRequestBytes?: number | undefined
  /**
   * A client that stops sending in the middle of its request is dropped
   * after this long without a byte, freeing its worker. Default 10 s.
   */
  readonly requestIdleTimeout?: Duration.Input | undefined
  /**
   * How long a handler may run; past it the connection is closed without a
   * flush (the client sees an incomplete response). Default: no limit.
   */
  readonly handlerTimeout?: Duration.Input | undefined
}

/**
 * @since 0.1.0
 * @category constants
 */
export const defaultMaxRequestBytes = 64 * 1024 * 1024

/**
 * A running server.
 *
 * @since 0.1.0
 * @category models
 */
export interface Server {
  readonly path: string
  /**
   * Asks the server to stop: it stops accepting, closes queued connections
   * no worker has started, and lets in-flight responses finish. Returns at
   * once; callable from a handler, another fiber or a signal handler.
   */
  readonly stop: Effect.Effect<void>
  /** Waits until the server has stopped and every worker has finished. */
  readonly join: Effect.Effect<void>
}

/**
 * @since 0.1.0
 * @category errors
 */
export type StartError = Listener.ListenError | Lockfile.LockError | SocketPath.SocketPathError


/**
 * Starts a server at `path` (see {@link Listener.make} for the startup
 * protocol) for the life of the scope. Closing the scope stops the server
 * gracefully and waits for it.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E, R>(
  path: string,
  handler: Handler<E, R>,
  options?: Options
): Effect.Effect<Server, StartError, Scope.Scope | R> =>
  Effect.gen(function*() {
    const threads = Math.max(1, Math.floor(options?.threads ?? 5))
    const metrics = recorder(path, yield* Effect.context<never>())
    const listener = yield* Listener.make(path, {
      ...options,
      queueCapacity: options?.queueCapacity ?? threads * 100,
      onAccept: (outcome) => {
        metrics.accepted()
        if (outcome === "refused") metrics.dropped("queue_full")
      }
    })
    const stopRequested = yield* Deferred.make<void>()
    const finished = yield* Deferred.make<void>()
    const stop = Effect.asVoid(Deferred.succeed(stopRequested, undefined))
    // Connections a worker holds. At stop, those whose client has not sent a
    // byte yet are dropped: their request has not begun, so nothing is lost.
    const active = new Set<net.Socket>()
    const idleMs = Duration.toMillis(options?.requestIdleTimeout ?? Duration.seconds(10))
    const reading = new IdleWatch(idleMs)
    // One sweep over the connections still sending their request, rather
    // than a timer per connection: timers cost more per request than the
    // whole sweep does per interval.
    if (Number.isFinite(idleMs) && idleMs > 0) {
      yield* Effect.forkScoped(
        Effect.repeat(Effect.sync(() => reading.sweep(Date.now())), Schedule.spaced(Duration.millis(Math.min(idleMs / 4, 1000))))
      )
    }
    const serve = serveConnection(path, handler, stop, metrics, reading, active, {
      maxBytes: options?.maxRequestBytes ?? defaultMaxRequestBytes,
      handlerTimeout: options?.handlerTimeout
    })

    // Between taking a connection and serving it, an interruption (a stop
    // whose grace period ran out) must not lose the socket: it is only
    // interruptible while waiting, and closed whatever happens after.
    const take = Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(restore(Queue.take(listener.accepted)), (socket) =>
        Effect.ensuring(
          restore(serve(socket)),
          Effect.sync(() => {
            active.delete(socket)
            socket.destroy()
          })
        ))
    )
    const workers = yield* Effect.forEach(
      Array.from({ length: threads }),
      () =>
        Effect.forkScoped(
          Pull.catchDone(Effect.forever(take), () => Effect.void).pipe(
            Effect.annotateLogs({ socket: path })
          )
        ),
      { concurrency: "unbounded" }
    )

    // The stop sequence: on request, or as soon as the socket is stolen (a
    // stolen server can never receive another client).
    yield* Effect.forkScoped(Effect.gen(function*() {
      yield* Effect.raceFirst(
        Deferred.await(stopRequested),
        Effect.tap(listener.stolen, () => Effect.logWarning(`socket '${path}' was removed or replaced; stopping`))
      )
      const closed = yield* listener.close
      for (let i = 0; i < closed; i++) metrics.dropped("shutdown")
      for (const socket of active) {
        if (socket.bytesRead === 0) socket.destroy(shutdownError)
      }
      yield* Fiber.awaitAll(workers)
      yield* listener.remove
      yield* Deferred.succeed(finished, undefined)
    }))

    const join = Deferred.await(finished)
    // Registered last, so it runs first when the scope closes: a graceful
    // stop before the fibers above are interrupted.
    const grace = options?.gracePeriod ?? Duration.seconds(30)
    yield* Effect.addFinalizer(() =>
      Effect.andThen(stop, Effect.timeoutOption(join, grace)).pipe(
        Effect.andThen(Fiber.interruptAll(workers))
      )
    )
    return { path, stop, join } satisfies Server
  })

/**
 * Starts a server and runs it until it stops (a handler answered
 * {@link Quit}, {@link Server.stop} was called, or its socket was stolen).
 *
 * @since 0.1.0
 * @category constructors
 */
export const run = <E, R>(
  path: string,
  handler: Handler<E, R>,
  options?: Options
): Effect.Effect<void, StartError, R> => Effect.scoped(Effect.flatMap(make(path, handler, options), (server) => server.join))

/**
 * The metric series of one server, bound to its socket path and to the
 * context its metrics registry lives in. Updates are synchronous and
 * allocate nothing, so they can run on every request and inside socket
 * callbacks.
 */
interface Recorder {
  readonly accepted: () => void
  readonly served: () => void
  readonly dropped: (reason: ServerMetrics.DropReason) => void
  readonly bytesIn: (n: number) => void
  readonly bytesOut: (n: number) => void
}

const recorder = (socket: string, context: Context.Context<never>): Recorder => {
  const bind = (metric: Metric.Counter<number>, attributes: Record<string, string>) => {
    const series = Metric.withAttributes(metric, attributes)
    return (n: number) => series.updateUnsafe(n, context)
  }
  const accepted = bind(ServerMetrics.accepted, { socket })
  const served = bind(ServerMetrics.served, { socket })
  const drops = new Map<ServerMetrics.DropReason, (n: number) => void>()
  return {
    accepted: () => accepted(1),
    served: () => served(1),
    dropped: (reason) => {
      let series = drops.get(reason)
      if (series === undefined) {
        series = bind(ServerMetrics.dropped, { socket, reason })
        drops.set(reason, series)
      }
      series(1)
    },
    bytesIn: bind(ServerMetrics.bytesIn, { socket }),
    bytesOut: bind(ServerMetrics.bytesOut, { socket })
  }
}

interface Limits {
  readonly maxBytes: number
  readonly handlerTimeout: Duration.Input | undefined
}

/**
 * The connections still sending their request, with when each last made
 * progress; a sweep drops those idle for too long.
 */
class IdleWatch {
  private readonly sockets = new Map<net.Socket, { bytes: number; since: number }>()
  private readonly idleMs: number
  constructor(idleMs: number) {
    this.idleMs = idleMs
  }
  start(socket: net.Socket): void {
    this.sockets.set(socket, { bytes: socket.bytesRead, since: Date.now() })
  }
  stop(socket: net.Socket): void {
    this.sockets.delete(socket)
  }
  sweep(now: number): void {
    for (const [socket, seen] of this.sockets) {
      if (socket.bytesRead !== seen.bytes) {
        seen.bytes = socket.bytesRead
        seen.since = now
      } else if (now - seen.since >= this.idleMs) {
        this.sockets.delete(socket)
        socket.destroy(idleError)
      }
    }
  }
}

const coded = (message: string, code: string) => Object.assign(new Error(message), { code })
const shutdownError = coded("the server is stopping", "ESHUTDOWN")
const idleError = coded("no request bytes for too long", "ETIMEDOUT")

/**
 * Serves one accepted connection. Never fails: whatever goes wrong ends this
 * connection only, and is counted and logged by its reason.
 */
const serveConnection = <E, R>(
  path: string,
  handler: Handler<E, R>,
  stop: Effect.Effect<void>,
  metrics: Recorder,
  reading: IdleWatch,
  active: Set<net.Socket>,
  limits: Limits
) =>
(socket: net.Socket): Effect.Effect<void, never, R> => {
  active.add(socket)
  const connection = Connection.makeUnsafe(socket, path)
  let bytesOut = 0
  const reply: Reply = (chunk) => {
    const bytes = toBytes(chunk)
    if (bytes.length === 0) return Effect.void
    bytesOut += bytes.length
    return connection.write(PktLine.frame(bytes))
  }
  // A client that stops sending mid-request would otherwise hold a worker
  // for ever.
  reading.start(socket)
  const run = limits.handlerTimeout === undefined
    ? handler
    : (request: Uint8Array, reply: Reply) => Effect.timeout(handler(request, reply), limits.handlerTimeout!)
  // A client that hangs up before sending anything (a probe, "is anyone
  // listening?") or a malformed or incomplete request ends at the read,
  // without reaching the application.
  const served = Tracing.spanIfTraced(
    "SimpleIpc.accept",
    path,
    Connection.readMessage(connection, { maxBytes: limits.maxBytes })
  ).pipe(
    Effect.flatMap((request) => {
      reading.stop(socket)
      metrics.bytesIn(request.length)
      return run(request, reply)
    }),
    Effect.flatMap((result) => {
      const end = Effect.map(connection.end(PktLine.flushBytes), () => {
        metrics.bytesOut(bytesOut)
        metrics.served()
      })
      // A quit stands even if its client is gone before the flush.
      return result === Quit ? Effect.ensuring(end, stop) : end
    }),
    Effect.catchCause((cause) => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
      const reason = dropReason(cause, socket)
      metrics.dropped(reason)
      switch (reason) {
        case "handler_failed":
          return Effect.logError("request handler failed; connection closed", cause)
        case "handler_timeout":
        case "too_large":
        case "idle_timeout":
          return Effect.logWarning(`connection dropped: ${reason}`, cause)
        default:
          return Effect.logDebug(`connection dropped: ${reason}`, cause)
      }
    }),
    Effect.ensuring(Effect.sync(() => {
      reading.stop(socket)
      active.delete(socket)
      socket.destroy()
    }))
  )
  return Tracing.spanIfTraced("SimpleIpc.serve", path, served)
}

/** Classifies why a connection ended without being served. */
const dropReason = (cause: Cause.Cause<unknown>, socket: net.Socket): ServerMetrics.DropReason => {
  const failure = cause.reasons.find((reason) => reason._tag === "Fail")
  if (failure === undefined) return "handler_failed"
  const error = (failure as { readonly error: unknown }).error
  if (error instanceof PktLine.PktLineError) {
    if (error.reason === "MessageTooLarge") return "too_large"
    if (error.reason === "UnexpectedEnd") return socket.bytesRead === 0 ? "probe" : "incomplete"
    return "malformed"
  }
  if (error instanceof Connection.SocketError) {
    if (error.operation === "write") return "client_gone"
    if (error.errno === "ETIMEDOUT") return "idle_timeout"
    if (error.errno === "ESHUTDOWN") return "shutdown"
    return socket.bytesRead === 0 ? "probe" : "incomplete"
  }
  if (Cause.isTimeoutError(error)) return "handler_timeout"
  return "handler_failed"
}

/**
 * A running server, as a service.
 *
 * @since 0.1.0
 * @category services
 */
export class IpcServer extends Context.Service<IpcServer, Server>()("effect-simple-ipc/IpcServer") {}

/**
 * A layer that runs a server for as long as the layer lives. Use
 * `Layer.launch` to run a daemon; read {@link IpcServer} to stop or await
 * it.
 *
 * @since 0.1.0
 * @category services
 */
export const layer = <E, R>(
  path: string,
  handler: Handler<E, R>,
  options?: Options
): Layer.Layer<IpcServer, StartError, R> => Layer.effect(IpcServer, make(path, handler, options))
