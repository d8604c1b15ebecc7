/**
 * The server side of Simple IPC: at most `threads` connections served at
 * once (Git's worker threads), one request each, with Git's lifecycle
 * (asynchronous stop, await, run) built as fibers in the server's scope.
 *
 * A connection's request is read in its socket's callbacks; a whole
 * request gets a fiber of its own for the application and the response,
 * forked in the server's context and interrupted when the server's grace
 * period runs out.
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
import * as Queue from "effect/Queue"
import * as References from "effect/References"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
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
 * A handler that fails, dies or is interrupted ends its own connection
 * without a flush (the client sees an incomplete response, not a short
 * one); a failure is logged, and the server goes on.
 *
 * Each request runs in a fiber of its own, so fibers a handler forks as
 * children end with its response. Work that must outlive the response
 * belongs in a longer scope (`Effect.forkIn`, or a service's own fibers).
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
export interface Options extends Omit<Listener.Options, "onAccept" | "take"> {
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
  /** Waits until the server has stopped and every response has ended. */
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
    const context = yield* serverContext<R>(path)
    const metrics = recorder(path, context)
    let pool: Pool<E, R> | undefined = undefined
    const listener = yield* Listener.make(path, {
      ...options,
      queueCapacity: options?.queueCapacity ?? threads * 100,
      take: (socket) => pool?.offer(socket) === true,
      onAccept: (outcome) => {
        metrics.accepted()
        if (outcome === "refused") metrics.dropped("queue_full")
        else if (outcome === "queued") pool?.take()
      }
    })
    const stopRequested = yield* Deferred.make<void>()
    const finished = yield* Deferred.make<void>()
    const stop = Effect.asVoid(Deferred.succeed(stopRequested, undefined))
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
    pool = new Pool(threads, listener.accepted, reading, Effect.runForkWith(context), {
      path,
      handler,
      stop,
      metrics,
      traced: (yield* Effect.tracer) !== Tracer.nativeTracer,
      maxBytes: options?.maxRequestBytes ?? defaultMaxRequestBytes,
      handlerTimeout: options?.handlerTimeout
    })
    // Connections that arrived while the server was being set up wait in
    // the listener's queue.
    pool.take()
    const served = pool

    // The stop sequence: on request, or as soon as the socket is stolen (a
    // stolen server can never receive another client).
    yield* Effect.forkScoped(Effect.gen(function*() {
      yield* Effect.raceFirst(
        Deferred.await(stopRequested),
        Effect.tap(listener.stolen, () => Effect.logWarning(`socket '${path}' was removed or replaced; stopping`))
      )
      const closed = yield* listener.close
      for (let i = 0; i < closed; i++) metrics.dropped("shutdown")
      served.dropUnstarted()
      yield* served.idle
      yield* listener.remove
      yield* Deferred.succeed(finished, undefined)
    }))

    const join = Deferred.await(finished)
    // Registered last, so it runs first when the scope closes: a graceful
    // stop before what is still running is interrupted.
    const grace = options?.gracePeriod ?? Duration.seconds(30)
    yield* Effect.addFinalizer(() =>
      Effect.andThen(stop, Effect.timeoutOption(join, grace)).pipe(
        Effect.andThen(served.interrupt)
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
  // The attributes go into the context once: `Metric.withAttributes` would
  // build a new context on every update.
  const bind = (metric: Metric.Counter<number>, attributes: Record<string, string>) => {
    const tagged = Context.add(context, Metric.CurrentMetricAttributes, {
      ...Context.get(context, Metric.CurrentMetricAttributes),
      ...attributes
    })
    return (n: number) => metric.updateUnsafe(n, tagged)
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
 * The server's context: what the handler needs, and a `socket` annotation
 * on everything it logs.
 */
const serverContext = <R>(path: string) =>
  Effect.map(Effect.context<R>(), (context) =>
    Context.add(context, References.CurrentLogAnnotations, {
      ...Context.get(context, References.CurrentLogAnnotations),
      socket: path
    }))

/** What serving a connection needs, fixed for the life of the server. */
interface Serving<E, R> {
  readonly path: string
  readonly handler: Handler<E, R>
  readonly stop: Effect.Effect<void>
  readonly metrics: Recorder
  /** Whether a tracer is installed, so that serving is worth spans. */
  readonly traced: boolean
  readonly maxBytes: number
  readonly handlerTimeout: Duration.Input | undefined
}

type ReadError = Connection.SocketError | PktLine.PktLineError

/**
 * At most `threads` connections served at once (Git's worker threads),
 * taken from the listener's queue in order.
 *
 * A request is read in the socket's own callbacks, and only a whole one
 * gets a fiber, for the application and the response: no fiber waits on a
 * socket, and a handler that answers at once runs without a turn of the
 * event loop. Every fiber is the pool's, interrupted at the end of the
 * grace period.
 */
class Pool<E, R> {
  /** The connections taken, each with how to stop reading its request while it is read. */
  private readonly active = new Map<net.Socket, (() => void) | undefined>()
  private readonly responding = new Set<Fiber.Fiber<void>>()
  private taking = false
  private onIdle: (() => void) | undefined = undefined
  private readonly threads: number
  private readonly queue: Queue.Dequeue<net.Socket, Cause.Done>
  private readonly reading: IdleWatch
  private readonly fork: (effect: Effect.Effect<void, never, R>) => Fiber.Fiber<void>
  private readonly serving: Serving<E, R>

  constructor(
    threads: number,
    queue: Queue.Dequeue<net.Socket, Cause.Done>,
    reading: IdleWatch,
    fork: (effect: Effect.Effect<void, never, R>) => Fiber.Fiber<void>,
    serving: Serving<E, R>
  ) {
    this.threads = threads
    this.queue = queue
    this.reading = reading
    this.fork = fork
    this.serving = serving
  }

  /**
   * Takes queued connections while fewer than `threads` are served. Not
   * re-entered: a connection served to the end at once frees its place
   * inside this loop, which then goes on, rather than recursing as deep as
   * the queue is long.
   */
  take(): void {
    if (this.taking) return
    this.taking = true
    try {
      while (this.active.size < this.threads) {
        const next = Queue.takeUnsafe(this.queue)
        if (next === undefined || next._tag === "Failure") return
        this.serve(next.value)
      }
    } finally {
      this.taking = false
    }
  }

  /**
   * Serves a connection at once if a place is free and none is waiting
   * (waiting ones go first); otherwise it is for the queue.
   */
  offer(socket: net.Socket): boolean {
    if (this.active.size >= this.threads || Queue.sizeUnsafe(this.queue) > 0) return false
    this.serve(socket)
    return true
  }

  private serve(socket: net.Socket): void {
    const connection = Connection.makeUnsafe(socket, this.serving.path)
    this.active.set(socket, undefined)
    // A client that stops sending mid-request would otherwise hold a place
    // for ever.
    this.reading.start(socket)
    if (this.serving.traced) {
      const request = Tracing.span("SimpleIpc.accept", this.serving.path, connection.readMessage(this.serving))
      return this.respond(socket, connection, request)
    }
    let read = true
    const stopReading = connection.readMessageUnsafe(this.serving, (result) => {
      read = false
      this.active.set(socket, undefined)
      this.respond(socket, connection, result instanceof Uint8Array ? Effect.succeed(result) : Effect.fail(result))
    })
    if (read) this.active.set(socket, stopReading)
  }

  private respond(socket: net.Socket, connection: Connection.Connection, request: Effect.Effect<Uint8Array, ReadError>): void {
    const fiber = this.fork(exchange(socket, connection, request, this.reading, this.serving))
    this.responding.add(fiber)
    fiber.addObserver(() => {
      this.responding.delete(fiber)
      this.release(socket)
    })
  }

  private release(socket: net.Socket): void {
    this.reading.stop(socket)
    this.active.delete(socket)
    socket.destroy()
    if (this.active.size === 0) this.onIdle?.()
    this.take()
  }

  /**
   * At a stop, drops the connections whose client has not sent a byte yet:
   * their request has not begun, so nothing is lost.
   */
  dropUnstarted(): void {
    for (const socket of this.active.keys()) {
      if (socket.bytesRead === 0) socket.destroy(shutdownError)
    }
  }

  /** Completes when no connection is being served. */
  readonly idle: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.active.size === 0) return resume(Effect.void)
    this.onIdle = () => resume(Effect.void)
    return Effect.sync(() => {
      this.onIdle = undefined
    })
  })

  /** Ends what is still running: the reads are stopped, the responses interrupted. */
  readonly interrupt: Effect.Effect<void> = Effect.suspend(() => {
    for (const [socket, stopReading] of this.active) {
      if (stopReading === undefined) continue
      stopReading()
      this.release(socket)
    }
    return Fiber.interruptAll(this.responding)
  })
}

/**
 * The request (read, or its failure), the application and the response, as
 * one effect. Never fails: whatever goes wrong ends this connection only,
 * and is counted and logged by its reason.
 */
const exchange = <E, R>(
  socket: net.Socket,
  connection: Connection.Connection,
  request: Effect.Effect<Uint8Array, ReadError>,
  reading: IdleWatch,
  serving: Serving<E, R>
): Effect.Effect<void, never, R> => {
  const { handler, handlerTimeout, metrics, stop } = serving
  let bytesOut = 0
  const reply: Reply = (chunk) => {
    const bytes = toBytes(chunk)
    if (bytes.length === 0) return Effect.void
    bytesOut += bytes.length
    return connection.write(PktLine.frame(bytes))
  }
  const run = handlerTimeout === undefined
    ? handler
    : (request: Uint8Array, reply: Reply) => Effect.timeout(handler(request, reply), handlerTimeout)
  // A client that hangs up before sending anything (a probe, "is anyone
  // listening?") or a malformed or incomplete request ends at the read,
  // without reaching the application.
  const served = request.pipe(
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
    })
  )
  return serving.traced ? Tracing.span("SimpleIpc.serve", serving.path, served) : served
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
