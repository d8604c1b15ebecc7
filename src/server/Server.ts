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
import * as Exit from "effect/Exit"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as References from "effect/References"
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
   * The largest request accepted, in payload bytes (the bytes the handler
   * gets; pkt-line headers are not counted). A longer one is dropped (the
   * connection closed, the handler never called) as soon as its payload
   * passes the limit, and the reason logged. Whatever its packet sizes,
   * reading a request holds at most about twice the limit plus 64 KiB: the
   * payload read so far (small payloads copied side by side, never an
   * object per packet) and, at the end, the request joined into one
   * buffer. Default 64 MiB.
   */
  readonly maxRequestBytes?: number | undefined
  /**
   * A client that stops sending in the middle of its request is dropped
   * after this long without a byte, freeing its worker. Checked every
   * quarter of it (at most every second), so the drop comes up to two
   * checks later. Default 10 s.
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
    pool = new Pool(threads, listener.accepted, Effect.runForkWith(context), {
      path,
      handler,
      stop,
      metrics,
      traced: Tracing.watches(yield* Effect.tracer),
      maxBytes: options?.maxRequestBytes ?? defaultMaxRequestBytes,
      handlerTimeout: options?.handlerTimeout
    })
    const idleMs = Duration.toMillis(options?.requestIdleTimeout ?? Duration.seconds(10))
    // One sweep over the connections still sending their request, rather
    // than a timer per connection: timers cost more per request than the
    // whole sweep does per interval.
    if (Number.isFinite(idleMs) && idleMs > 0) {
      const sweeping = pool
      yield* Effect.forkScoped(
        Effect.repeat(
          Effect.sync(() => sweeping.sweep(Date.now(), idleMs)),
          Schedule.spaced(Duration.millis(Math.min(idleMs / 4, 1000)))
        )
      )
    }
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

/**
 * One of the pool's places, reused from connection to connection: the
 * connection it serves and how far it has got.
 */
class Place {
  socket: net.Socket | undefined = undefined
  /** Whether the request is still being read (the idle watch's concern). */
  reading = false
  /** Stops the read of the request in callbacks, or the wait for the response's end. */
  cancel: (() => void) | undefined = undefined
  /** The application, while it runs. */
  fiber: Fiber.Fiber<unknown, unknown> | undefined = undefined
  /** For the idle watch: `socket.bytesRead` at the last sweep (-1: not seen yet), and since when. */
  seen = -1
  since = 0
}

type Fork<R> = <A, E>(effect: Effect.Effect<A, E, R>) => Fiber.Fiber<A, E>

/**
 * Starts a callback operation of `place`'s connection (`start` returns what
 * stops it) and keeps the stop in `place.cancel` while it runs. `done` may
 * run before `start` returns, and the place may then already serve another
 * connection: the stop is kept only if the operation is still pending, and
 * dropped when it completes.
 */
const awaiting = <A>(place: Place, start: (done: (result: A) => void) => () => void, done: (result: A) => void) => {
  let pending = true
  const cancel = start((result) => {
    pending = false
    place.cancel = undefined
    done(result)
  })
  if (pending) place.cancel = cancel
}

/**
 * At most `threads` connections served at once (Git's worker threads),
 * taken from the listener's queue in order.
 *
 * A request is read in the socket's own callbacks, and only a whole one
 * gets a fiber, for the application; the response's end is written from
 * the fiber's observer. No fiber waits on a socket, and a handler that
 * answers at once runs without a turn of the event loop. Places are
 * reused, so serving a connection builds no collection entries.
 */
class Pool<E, R> {
  /** Every place made so far (at most `threads`), and those free. */
  private readonly places: Array<Place> = []
  private readonly free: Array<Place> = []
  private taking = false
  /** Set at the end of the grace period. */
  private closed = false
  private onIdle: (() => void) | undefined = undefined
  private readonly threads: number
  private readonly queue: Queue.Dequeue<net.Socket, Cause.Done>
  private readonly fork: Fork<R>
  private readonly serving: Serving<E, R>

  /** How many connections are being served: the places not free. */
  private get busy(): number {
    return this.places.length - this.free.length
  }

  constructor(threads: number, queue: Queue.Dequeue<net.Socket, Cause.Done>, fork: Fork<R>, serving: Serving<E, R>) {
    this.threads = threads
    this.queue = queue
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
    if (this.taking || this.closed) return
    this.taking = true
    try {
      while (this.busy < this.threads) {
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
    if (this.closed || this.busy >= this.threads || Queue.sizeUnsafe(this.queue) > 0) return false
    this.serve(socket)
    return true
  }

  private serve(socket: net.Socket): void {
    let place = this.free.pop()
    if (place === undefined) {
      place = new Place()
      this.places.push(place)
    }
    place.socket = socket
    // A client that stops sending mid-request would otherwise hold a place
    // for ever: the idle watch looks at every place still reading.
    place.reading = true
    place.seen = -1
    const connection = Connection.makeUnsafe(socket, this.serving.path)
    if (this.serving.traced) return this.respond(place, connection, undefined)
    awaiting(place, (done) => connection.readMessageUnsafe(this.serving, done), (result) => {
      if (result instanceof Uint8Array) return this.respond(place, connection, result)
      // A client that hangs up before sending anything (a probe, "is
      // anyone listening?") or a malformed or incomplete request ends
      // here, without reaching the application.
      this.release(place)
      this.report(Cause.fail(result), socket)
    })
  }

  /** The request has been read; it no longer needs watching. */
  private received(place: Place, request: Uint8Array): void {
    place.reading = false
    this.serving.metrics.bytesIn(request.length)
  }

  /**
   * Runs the application in a fiber of its own. With a tracer, the fiber
   * reads the request too (`request` undefined), inside the spans.
   */
  private respond(place: Place, connection: Connection.Connection, request: Uint8Array | undefined): void {
    const { handler, handlerTimeout, path } = this.serving
    let bytesOut = 0
    const reply: Reply = (chunk) => {
      const bytes = toBytes(chunk)
      if (bytes.length === 0) return Effect.void
      bytesOut += bytes.length
      return connection.write(PktLine.frame(bytes))
    }
    // Called inside the fiber (`suspend`), so that a handler that throws
    // rather than failing is a defect of its own connection, as a failure
    // is, and not an exception in a socket callback.
    const run = (request: Uint8Array) =>
      Effect.suspend(() =>
        handlerTimeout === undefined ? handler(request, reply) : Effect.timeout(handler(request, reply), handlerTimeout)
      )
    let application: Effect.Effect<void | typeof Quit, unknown, R>
    if (request !== undefined) {
      this.received(place, request)
      application = run(request)
    } else {
      application = Tracing.span(
        "SimpleIpc.serve",
        path,
        Effect.flatMap(Tracing.span("SimpleIpc.accept", path, connection.readMessage(this.serving)), (request) => {
          this.received(place, request)
          return run(request)
        })
      )
    }
    const fiber = this.fork(application)
    place.fiber = fiber
    fiber.addObserver((exit) => {
      place.fiber = undefined
      this.finish(place, connection, exit, bytesOut)
    })
  }

  /**
   * After the application: a flush ends the response, then the connection
   * is closed. One that failed, died or was interrupted is closed without
   * a flush, so its client sees an incomplete response, not a short one.
   */
  private finish(
    place: Place,
    connection: Connection.Connection,
    exit: Exit.Exit<void | typeof Quit, unknown>,
    bytesOut: number
  ): void {
    const socket = connection.socket
    if (exit._tag === "Failure") {
      this.release(place)
      if (!Cause.hasInterruptsOnly(exit.cause)) this.report(exit.cause, socket)
      return
    }
    const { metrics, stop } = this.serving
    awaiting(place, (done) => connection.endUnsafe(PktLine.flushBytes, done), (error) => {
      if (error === undefined) {
        metrics.bytesOut(bytesOut)
        metrics.served()
      }
      // A quit stands even if its client is gone before the flush.
      if (exit.value === Quit) this.fork(stop)
      this.release(place)
      if (error !== undefined) this.report(Cause.fail(error), socket)
    })
  }

  /** Counts and logs, by its reason, why a connection ended unserved. */
  private report(cause: Cause.Cause<unknown>, socket: net.Socket): void {
    const reason = dropReason(cause, socket)
    this.serving.metrics.dropped(reason)
    this.fork(logDrop(reason, cause))
  }

  private release(place: Place): void {
    place.socket?.destroy()
    place.socket = undefined
    place.reading = false
    place.cancel = undefined
    this.free.push(place)
    if (this.busy === 0) this.onIdle?.()
    this.take()
  }

  /** Drops the connections that have sent no byte of their request for `idleMs`. */
  sweep(now: number, idleMs: number): void {
    for (const place of this.places) {
      const socket = place.socket
      if (socket === undefined || !place.reading) continue
      if (socket.bytesRead !== place.seen) {
        place.seen = socket.bytesRead
        place.since = now
      } else if (now - place.since >= idleMs) {
        // The read ends with this error and frees the place; not watched again meanwhile.
        place.reading = false
        socket.destroy(idleError)
      }
    }
  }

  /**
   * At a stop, drops the connections whose client has not sent a byte yet:
   * their request has not begun, so nothing is lost.
   */
  dropUnstarted(): void {
    for (const place of this.places) {
      if (place.reading && place.socket?.bytesRead === 0) place.socket.destroy(shutdownError)
    }
  }

  /** Completes when no connection is being served. */
  readonly idle: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.busy === 0) return resume(Effect.void)
    this.onIdle = () => resume(Effect.void)
    return Effect.sync(() => {
      this.onIdle = undefined
    })
  })

  /**
   * Ends what is still running: reads and ends are stopped, applications
   * interrupted. Nothing is taken afterwards, not even from the places
   * this frees.
   */
  readonly interrupt: Effect.Effect<void> = Effect.suspend(() => {
    this.closed = true
    const running: Array<Fiber.Fiber<unknown, unknown>> = []
    for (const place of this.places) {
      if (place.fiber !== undefined) running.push(place.fiber)
      else if (place.socket !== undefined) {
        place.cancel?.()
        this.release(place)
      }
    }
    return Fiber.interruptAll(running)
  })
}

const logDrop = (reason: ServerMetrics.DropReason, cause: Cause.Cause<unknown>): Effect.Effect<void> => {
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
