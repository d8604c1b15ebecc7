/**
 * The server side of Simple IPC: one request per connection, at most
 * `threads` applications running at once (Git's worker threads), with
 * Git's lifecycle (asynchronous stop, await, run) built as fibers in the
 * server's scope.
 *
 * Requests are read as their bytes arrive, whatever the workers are
 * doing; only a complete request takes a place. The engine, with the life
 * of one connection, is in `./internal/engine.ts`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Tracing from "../internal/Tracing.ts"
import type * as Connection from "../transport/Connection.ts"
import * as Listener from "../transport/Listener.ts"
import * as Lifetime from "./internal/lifetime.ts"
import type * as Lockfile from "../transport/Lockfile.ts"
import type * as SocketPath from "../transport/SocketPath.ts"
import { listen } from "../transport/internal/listener.ts"
import type * as Control from "../client/Control.ts"
import * as ServerControl from "./internal/control.ts"
import { Engine, makeSpans } from "./internal/engine.ts"
import { recorder } from "./internal/metrics.ts"

/**
 * What a handler returns to ask the server to shut down after this
 * response.
 *
 * @since 0.1.0
 * @category constants
 */
export const Quit = "quit" as const

/**
 * Sends part of the response at once, as one or more data packets; an empty
 * chunk sends nothing. Waits while the client is slow to read.
 *
 * @since 0.1.0
 * @category models
 */
export type Reply = (chunk: Uint8Array | string) => Effect.Effect<void, Connection.TransportError>

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
 * response chunks; each chunk goes to the wire as it is produced, no faster
 * than the client reads.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Server } from "effect-simple-ipc"
 *
 * // Answers `count <n>` with the lines 1 to n, each sent as it is made.
 * const counter = Server.streamHandler((request) => {
 *   const n = Number(new TextDecoder().decode(request).replace(/^count /, ""))
 *   return Stream.range(1, n).pipe(Stream.map((i) => new TextEncoder().encode(`${i}\n`)))
 * })
 *
 * const program = Effect.scoped(Effect.andThen(Server.make("/tmp/count.sock", counter), Effect.never))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const streamHandler = <E, R>(
  f: (request: Uint8Array) => Stream.Stream<Uint8Array, E, R>
): Handler<E | Connection.TransportError, R> =>
(request, reply) => Stream.runForEach(f(request), reply)

/**
 * @since 0.1.0
 * @category models
 */
export interface Options extends Pick<Listener.Options, "lockTimeout" | "lockStaleAfter" | "mode" | "backlog"> {
  /**
   * The most connections held at once, whatever their state (being read,
   * waiting, served); the kernel's next connection beyond it is closed at
   * once by Node, before the server sees it. Requests being read hold at
   * most about `2 × maxRequestBytes` each. Default: no limit.
   */
  readonly maxConnections?: number | undefined
  /** How many requests are served at once (Git's `nr_threads`). Default 5, at least 1. */
  readonly threads?: number | undefined
  /**
   * Complete requests waiting for one of the `threads` places; a request
   * that finds the queue full is dropped at once (the client sees its
   * connection closed). Default `threads × 100`.
   */
  readonly queueCapacity?: number | undefined
  /** How long a complete request may wait for a place before it is dropped. Default 10 s. */
  readonly queueTimeout?: Duration.Input | undefined
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
   * How long a client has, from the moment it connects, to send its whole
   * request; past it the connection is dropped. Reading costs no worker, so
   * this bounds only how long a slow client holds a connection. Default 5 s.
   */
  readonly requestTimeout?: Duration.Input | undefined
  /**
   * A client that stops sending in the middle of its request is dropped
   * after this long without a byte (usually `requestTimeout` comes first).
   * Default 10 s.
   */
  readonly requestIdleTimeout?: Duration.Input | undefined
  /**
   * A client that takes none of its response for this long (the response
   * waits to go out and nothing moves) is dropped: its connection is
   * closed and its application, if still running, interrupted, which
   * frees its place. Default 10 s.
   */
  readonly responseIdleTimeout?: Duration.Input | undefined
  /**
   * How long a handler may run; past it the connection is closed without a
   * flush (the client sees an incomplete response). Default: no limit.
   */
  readonly handlerTimeout?: Duration.Input | undefined

  // Control requests: opt-in answers about the server itself, given before
  // the application sees the request (see `Control` and ./internal/control.ts).

  /**
   * Who this server is: its `name`, `version` and `protocol` (a protocol or
   * build id). With it, the server answers the identity control request
   * (`\0simple-ipc-control\0identity`, a request none of Git's clients can
   * send) with these, its pid and its start time, and `AutoStart` can tell
   * an old daemon from the one it expects. Without it, that request goes to
   * the application like any other. Default: none.
   */
  readonly identity?: Control.Declared | undefined
  /**
   * Answer the status control request (`\0simple-ipc-control\0status`)
   * with the server's identity, uptime, socket, connections and counters
   * (see `Control.Status`); `logPath` names the file the daemon's output
   * goes to, shown in the answer. Without it, that request goes to the
   * application. Default: off.
   */
  readonly status?: boolean | { readonly logPath?: string | undefined } | undefined

  // The daemon's lifetime.

  /**
   * Stops the server once no request has come for this long, as a daemon
   * started on demand should (see `AutoStart`): it stops as `stop` does
   * and removes its socket, and the next client starts a fresh one. The
   * time counts from the end of the last request; a request in flight,
   * however long, keeps the server up, and so does every open connection.
   * A probe (a client that connects and hangs up without sending, as
   * `Client.activeState` does) is not a request: a monitor checking that
   * the daemon is there does not keep it alive. Default (and 0): never.
   */
  readonly idleShutdown?: Duration.Input | undefined
}

/** The largest request accepted by default (64 MiB of payload). */
const defaultMaxRequestBytes = 64 * 1024 * 1024

/**
 * A running server.
 *
 * @since 0.1.0
 * @category models
 */
export interface Server {
  readonly path: string
  /**
   * Asks the server to stop: it stops accepting, drops connections whose
   * client has sent nothing yet, and lets requests in flight finish. Returns
   * at once; callable from a handler, another fiber or a signal handler.
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

/** A time limit in milliseconds; `Infinity` for none. */
const millis = (input: Duration.Input | undefined, fallback: Duration.Input): number => {
  const ms = Duration.toMillis(input ?? fallback)
  return ms > 0 ? ms : Infinity
}

/**
 * Starts a server at `path` (see {@link Listener.make} for the startup
 * protocol) for the life of the scope: it listens once this returns.
 * Closing the scope stops the server gracefully and waits for it.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Client, Server } from "effect-simple-ipc"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     yield* Server.make("/tmp/upper.sock", (request, reply) =>
 *       reply(new TextDecoder().decode(request).toUpperCase()), { threads: 8 })
 *     const answer = yield* Client.request("/tmp/upper.sock", "hello")
 *     console.log(new TextDecoder().decode(answer)) // HELLO
 *   })
 * ) // the server stops, and its socket is removed, with the scope
 * ```
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
    const stopRequested = yield* Deferred.make<void>()
    const finished = yield* Deferred.make<void>()
    const stop = Effect.asVoid(Deferred.succeed(stopRequested, undefined))
    const traced = Tracing.watches(yield* Effect.tracer)
    const timeouts = {
      requestTimeout: millis(options?.requestTimeout, Duration.seconds(5)),
      requestIdleTimeout: millis(options?.requestIdleTimeout, Duration.seconds(10)),
      queueTimeout: millis(options?.queueTimeout, Duration.seconds(10)),
      responseIdleTimeout: millis(options?.responseIdleTimeout, Duration.seconds(10))
    }
    const metrics = recorder(path, context)
    const control = ServerControl.make(
      { path, identity: options?.identity, status: options?.status },
      handler,
      metrics,
      (): ServerControl.Load => engine.load()
    )
    const engine: Engine<E | Connection.TransportError, R> = new Engine<E | Connection.TransportError, R>({
      path,
      handler: control.handler,
      threads,
      queueCapacity: Math.max(1, options?.queueCapacity ?? threads * 100),
      maxRequestBytes: options?.maxRequestBytes ?? defaultMaxRequestBytes,
      handlerTimeout: options?.handlerTimeout,
      ...timeouts,
      stop,
      metrics,
      fork: Effect.runForkWith(context),
      placeless: control.placeless,
      spans: traced ? makeSpans(Tracing.handSpans(path, context, yield* Effect.clockWith(Effect.succeed))) : undefined
    })
    const listener = yield* listen(path, {
      lockTimeout: options?.lockTimeout,
      lockStaleAfter: options?.lockStaleAfter,
      mode: options?.mode,
      backlog: options?.backlog,
      maxConnections: options?.maxConnections
    }, (socket) => engine.accept(socket))
    // One sweep enforces the time limits of reading, waiting and writing, at a quarter of the shortest
    // (at most every second): a limit is enforced up to that much late.
    const shortest = Math.min(...Object.values(timeouts))
    if (Number.isFinite(shortest)) {
      yield* Effect.forkScoped(
        Effect.repeat(
          Effect.sync(() => engine.sweep(Date.now())),
          Schedule.spaced(Duration.millis(Math.min(shortest / 4, 1000)))
        )
      )
    }

    const idleShutdown = millis(options?.idleShutdown, Duration.infinity)
    if (Number.isFinite(idleShutdown)) yield* Effect.forkScoped(stopWhenIdle(engine, idleShutdown, stop))

    // The stop sequence: on request, or as soon as the socket is stolen (a
    // stolen server can never receive another client).
    yield* Effect.forkScoped(Effect.gen(function*() {
      yield* Effect.raceFirst(
        Deferred.await(stopRequested),
        Effect.tap(listener.stolen, () => Effect.logWarning(`socket '${path}' was removed or replaced; stopping`))
      )
      yield* listener.close
      engine.beginStop()
      yield* engine.idle
      yield* listener.remove
      yield* Deferred.succeed(finished, undefined)
    }))

    const join = Deferred.await(finished)
    // Registered last, so it runs first when the scope closes: a graceful
    // stop before what is still running is interrupted.
    const grace = options?.gracePeriod ?? Duration.seconds(30)
    // After the interrupt the stop sequence may itself be interrupted with
    // the scope: `join` is completed here too, so that nobody waits for it
    // for ever.
    yield* Effect.addFinalizer(() =>
      Effect.andThen(stop, Effect.timeoutOption(join, grace)).pipe(
        Effect.andThen(engine.interrupt),
        Effect.andThen(Deferred.succeed(finished, undefined))
      )
    )
    return { path, stop, join } satisfies Server
  })

/**
 * Asks the server to stop once no request has come for `limit` ms: the time
 * counts from the start, then from the end of each request, and waits
 * while any connection is open.
 */
const stopWhenIdle = <E, R>(engine: Engine<E, R>, limit: number, stop: Effect.Effect<void>) =>
  Effect.gen(function*() {
    const clock = yield* Effect.clockWith(Effect.succeed)
    let last = clock.currentTimeMillisUnsafe()
    engine.watchActivity(() => {
      last = clock.currentTimeMillisUnsafe()
    })
    for (;;) {
      yield* engine.idle
      const left = last + limit - clock.currentTimeMillisUnsafe()
      if (left <= 0) break
      yield* Effect.sleep(Duration.millis(left))
    }
    yield* Effect.logInfo(`no request for ${Duration.format(Duration.millis(limit))}; stopping`)
    yield* stop
  })

/**
 * Starts a server and runs it until it stops (a handler answered
 * {@link Quit}, {@link Server.stop} was called, or its socket was stolen).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Server } from "effect-simple-ipc"
 *
 * // Answers `ping` until a client sends `quit`.
 * const daemon = Server.run("/tmp/app.sock", (request, reply) => {
 *   const command = new TextDecoder().decode(request)
 *   if (command === "quit") return Effect.succeed(Server.Quit)
 *   return reply(command === "ping" ? "pong" : `unknown command: ${command}`)
 * })
 *
 * Effect.runFork(daemon)
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const run = <E, R>(
  path: string,
  handler: Handler<E, R>,
  options?: Options
): Effect.Effect<void, StartError, R> => Effect.scoped(Effect.flatMap(make(path, handler, options), (server) => server.join))

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

/**
 * A running server, as a service.
 *
 * @since 0.1.0
 * @category services
 */
export class IpcServer extends Context.Service<IpcServer, Server>()("effect-simple-ipc/IpcServer") {}

/**
 * A layer that runs a server for as long as the layer lives; read
 * {@link IpcServer} to stop or await it. A daemon is this layer, launched:
 * `Layer.launch(Server.layer(...))`.
 *
 * When the server stops by itself (a handler answered {@link Quit}, `stop`
 * was called, the socket was stolen) and nothing has awaited its `join`,
 * the fiber that built the layer is interrupted, so that `Layer.launch`
 * ends, and a daemon's process with it. (Under `NodeRuntime.runMain`, an
 * interrupted program exits with code 130; a program that should exit 0
 * awaits `join` instead, or uses {@link run}.) Closing the layer's scope
 * stops the server gracefully, as ever.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import { Server } from "effect-simple-ipc"
 *
 * const AppServer = Server.layer("/tmp/app.sock", (request, reply) => reply(request), { threads: 2 })
 *
 * // A daemon: serves until the server stops, SIGINT or SIGTERM.
 * NodeRuntime.runMain(Layer.launch(AppServer))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E, R>(
  path: string,
  handler: Handler<E, R>,
  options?: Options
): Layer.Layer<IpcServer, StartError, R> =>
  Layer.effect(IpcServer, Effect.flatMap(make(path, handler, options), Lifetime.endWithServer))
