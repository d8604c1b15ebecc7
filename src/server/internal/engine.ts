/**
 * The server's engine: every connection's life, from accept to close.
 *
 * One connection carries one request. Its life, as a state machine whose
 * transitions all live in {@link Engine}:
 *
 * ```text
 *   accept ──▶ reading ──▶ waiting ──▶ running ──▶ ending ──▶ closed
 *                 │           │           │           │
 *                 └───────────┴─────┬─────┴───────────┘
 *                                   ▼
 *                          dropped (with a reason)
 * ```
 *
 * - `reading`: the request arrives, decoded in the socket's own callbacks.
 *   Reading costs no worker: Node reads thousands of sockets at once for
 *   free, so a client that sends slowly (or never) cannot hold one. This is
 *   where we differ from Git, whose worker thread reads the request itself
 *   and can be stalled by one half-sent request.
 * - `waiting`: the request is complete and waits, first in first out, for
 *   one of the `threads` places.
 * - `running`: the application runs in a fiber of its own, holding a place.
 * - `ending`: the application has returned; the flush is written and the
 *   rest of the response drains to the client. The place is already free:
 *   a client that does not read its response cannot hold one.
 *
 * A client that closes its connection while its request waits or runs has
 * gone, and its request with it: it leaves the queue, or its application
 * is interrupted, which frees its place (`peerEnded`). A half-close is not
 * a hang-up (see `peerEnded`).
 *
 * Every time limit but `handlerTimeout` (a timeout around the application,
 * in its fiber) is checked by one sweep over the live connections, cheaper
 * than a timer per connection; and whoever cuts a connection records why
 * before cutting it, so the reason is never guessed from an errno later.
 */
import * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as net from "node:net"
import * as PktLine from "../../framing/PktLine.ts"
import { toBytes } from "../../internal/Bytes.ts"
import type * as Tracing from "../../internal/Tracing.ts"
import * as Connection from "../../transport/Connection.ts"
import { SocketConnection } from "../../transport/internal/socketConnection.ts"
import type { Handler, Reply } from "../Server.ts"
import { Quit } from "../Server.ts"
import type { Load } from "./control.ts"
import { type DropReason, logDrop, type Recorder } from "./metrics.ts"

/** What the engine needs, fixed for the life of the server. Times in milliseconds; `Infinity` for none. */
export interface Settings<E, R> {
  readonly path: string
  readonly handler: Handler<E, R>
  readonly threads: number
  readonly queueCapacity: number
  readonly maxRequestBytes: number
  readonly requestTimeout: number
  readonly requestIdleTimeout: number
  readonly queueTimeout: number
  readonly responseIdleTimeout: number
  readonly handlerTimeout: Duration.Input | undefined
  /** Asks the server to stop (a handler answered {@link Quit}). */
  readonly stop: Effect.Effect<void>
  readonly metrics: Recorder
  /** Runs an effect in the server's context, in a fiber of its own. */
  readonly fork: <A, E2>(effect: Effect.Effect<A, E2, R>) => Fiber.Fiber<A, E2>
  /** Present when a tracer is installed. */
  readonly spans: Spans | undefined
  /**
   * Requests answered without a place (the control requests the server
   * answers, see `./control.ts`): a status must come back even when every
   * place is taken. Absent when there are none.
   */
  readonly placeless?: ((request: Uint8Array) => boolean) | undefined
}

type State = "reading" | "waiting" | "running" | "ending" | "closed"

/** One connection and its one request. */
class Exchange {
  state: State = "reading"
  readonly connection: SocketConnection
  readonly acceptedAt: number
  /** When the current state began, or the last progress the sweep saw. */
  since: number
  /** The progress the sweep saw last (bytes read or bytes flushed); -1: none yet. */
  seen = -1
  request: Uint8Array | undefined = undefined
  /** Stops the read of the request, the watch on its client, or the wait for the response's end. */
  cancel: (() => void) | undefined = undefined
  fiber: Fiber.Fiber<unknown, unknown> | undefined = undefined
  /** Set by whoever cuts the connection, before cutting it. */
  reason: DropReason | undefined = undefined
  bytesOut = 0
  span: ServeSpan | undefined = undefined
  /** Whether its application holds one of the `threads` places (all but placeless requests). */
  holdsPlace = true
  /** The client shut down its writing side after its request, and still reads (see `peerEnded`). */
  halfClosed = false

  constructor(socket: net.Socket, path: string, now: number) {
    this.connection = new SocketConnection(socket, path)
    this.acceptedAt = now
    this.since = now
  }

  get socket(): net.Socket {
    return this.connection.socket
  }

  /** Bytes of the response the kernel has taken, or `undefined` when nothing waits to go out. */
  flushed(): number | undefined {
    const socket = this.socket
    return socket.writableLength === 0 ? undefined : socket.bytesWritten - socket.writableLength
  }
}

/**
 * Starts a callback operation of `exchange` (`start` returns what stops it)
 * and keeps the stop while it runs. `done` may run before `start` returns;
 * the stop is kept only if the operation is still pending.
 */
const awaiting = <A>(exchange: Exchange, start: (done: (result: A) => void) => () => void, done: (result: A) => void) => {
  let pending = true
  const cancel = start((result) => {
    pending = false
    exchange.cancel = undefined
    done(result)
  })
  if (pending) exchange.cancel = cancel
}

export class Engine<E, R> {
  private readonly live = new Set<Exchange>()
  /** Complete requests waiting for a place, oldest first (a Set keeps insertion order). */
  private readonly waiting = new Set<Exchange>()
  /** Places taken: applications running. */
  private running = 0
  private taking = false
  private stopping = false
  /** Set at the end of the grace period: nothing more is started. */
  private closed = false
  /** Waiting for no connection to be left: the stop sequence, and idle shutdown. */
  private readonly idleWaiters = new Set<() => void>()
  /** For idle shutdown: told when a connection that brought a request (or part of one) closes. */
  private onActivity: (() => void) | undefined = undefined
  private readonly settings: Settings<E, R>

  constructor(settings: Settings<E, R>) {
    this.settings = settings
  }

  /** A new connection: its request is read at once, whatever the workers are doing. */
  accept(socket: net.Socket): void {
    const { metrics, maxRequestBytes, spans } = this.settings
    metrics.accepted()
    if (this.stopping) {
      socket.destroy()
      return metrics.dropped("shutdown")
    }
    const exchange = new Exchange(socket, this.settings.path, Date.now())
    this.live.add(exchange)
    if (spans !== undefined) exchange.span = spans.accepted()
    awaiting<Uint8Array | Connection.TransportError | PktLine.PktLineError>(
      exchange,
      (done) => exchange.connection.readMessageUnsafe({ maxBytes: maxRequestBytes }, done),
      (result) => this.received(exchange, result)
    )
  }

  /** The request has been read, or could not be. */
  private received(exchange: Exchange, result: Uint8Array | Connection.TransportError | PktLine.PktLineError): void {
    if (!(result instanceof Uint8Array)) {
      // A client that hangs up before sending anything (a probe, "is anyone
      // listening?"), or a malformed or incomplete request, ends here
      // without reaching the application.
      return this.drop(exchange, readFailure(result, exchange), Cause.fail(result))
    }
    exchange.span?.received()
    this.settings.metrics.bytesIn(result.length)
    exchange.request = result
    if (this.settings.placeless?.(result) === true && !this.closed) {
      exchange.holdsPlace = false
      return this.run(exchange)
    }
    if (this.running < this.settings.threads && this.waiting.size === 0 && !this.closed) return this.run(exchange)
    if (this.waiting.size >= this.settings.queueCapacity) return this.drop(exchange, "queue_full")
    exchange.state = "waiting"
    exchange.since = Date.now()
    this.waiting.add(exchange)
    this.watch(exchange)
  }

  /** Runs the application for a complete request, in a fiber of its own, holding a place. */
  private run(exchange: Exchange): void {
    const { handler, handlerTimeout } = this.settings
    if (exchange.holdsPlace) this.running++
    exchange.state = "running"
    exchange.seen = -1
    const request = exchange.request!
    exchange.request = undefined
    const reply: Reply = (chunk) => {
      const bytes = toBytes(chunk)
      if (bytes.length === 0) return Effect.void
      exchange.bytesOut += bytes.length
      return exchange.connection.write(PktLine.frame(bytes))
    }
    // Called inside the fiber (`suspend`), so that a handler that throws
    // rather than failing is a defect of its own connection, as a failure
    // is, and not an exception in a socket callback.
    let application: Effect.Effect<void | typeof Quit, unknown, R> = Effect.suspend(() =>
      handlerTimeout === undefined ? handler(request, reply) : Effect.timeout(handler(request, reply), handlerTimeout)
    )
    if (exchange.span !== undefined) application = exchange.span.around(application)
    const fiber = this.settings.fork(application)
    exchange.fiber = fiber
    // Watched once there is a fiber to interrupt.
    this.watch(exchange)
    fiber.addObserver((exit) => this.handled(exchange, exit))
  }

  /**
   * The application is done and its place is free. A flush ends the
   * response, then the connection is closed; one that failed, died or was
   * interrupted is closed without a flush, so its client sees an
   * incomplete response, not a short one.
   */
  private handled(exchange: Exchange, exit: Exit.Exit<void | typeof Quit, unknown>): void {
    exchange.fiber = undefined
    this.unwatch(exchange)
    if (exchange.holdsPlace) this.running--
    if (exit._tag === "Failure") {
      if (exchange.reason === undefined && Cause.hasInterruptsOnly(exit.cause)) {
        // It interrupted itself: its own business, not a drop to count.
        exchange.span?.end(exit)
        this.close(exchange)
      } else this.drop(exchange, exchange.reason ?? handlerFailure(exit.cause), exit.cause)
    } else {
      exchange.state = "ending"
      exchange.seen = -1
      awaiting(exchange, (done) => exchange.connection.endUnsafe(PktLine.flushBytes, done), (error) => {
        exchange.span?.end(error === undefined ? Exit.void : Exit.fail(error))
        // A quit stands even if its client is gone before the flush.
        if (exit.value === Quit) this.settings.fork(this.settings.stop)
        if (error !== undefined) return this.drop(exchange, exchange.reason ?? "client_gone", Cause.fail(error))
        this.settings.metrics.bytesOut(exchange.bytesOut)
        this.settings.metrics.served()
        this.close(exchange)
      })
    }
    this.next()
  }

  /**
   * Gives free places to waiting requests, oldest first. Not re-entered: an
   * application that completes at once frees its place inside this loop,
   * which then goes on, rather than recursing as deep as the queue is long.
   */
  private next(): void {
    if (this.taking) return
    this.taking = true
    try {
      while (this.running < this.settings.threads && this.waiting.size > 0 && !this.closed) {
        const exchange: Exchange = this.waiting.values().next().value!
        this.waiting.delete(exchange)
        this.run(exchange)
      }
    } finally {
      this.taking = false
    }
  }

  private drop(exchange: Exchange, reason: DropReason, cause?: Cause.Cause<unknown>): void {
    if (exchange.state === "closed") return
    exchange.span?.end(Exit.failCause(cause ?? Cause.fail(reason)))
    this.settings.metrics.dropped(reason)
    this.settings.fork(logDrop(reason, cause))
    this.close(exchange)
  }

  /**
   * Ends a connection for `reason`, at once. A running application is
   * interrupted (its client is gone for us): the drop is counted, with
   * this reason, when its fiber has ended and given its place back.
   */
  private cut(exchange: Exchange, reason: DropReason): void {
    if (exchange.fiber === undefined) {
      exchange.cancel?.()
      return this.drop(exchange, reason)
    }
    exchange.reason ??= reason
    this.unwatch(exchange)
    exchange.socket.destroy()
    exchange.fiber.interruptUnsafe()
  }

  /**
   * Watches the client of a complete request while the request waits and
   * runs (armed again as it starts running: a half-closed client is looked
   * at afresh).
   */
  private watch(exchange: Exchange): void {
    exchange.cancel = exchange.connection.watchEndUnsafe(() => this.peerEnded(exchange))
  }

  private unwatch(exchange: Exchange): void {
    exchange.cancel?.()
    exchange.cancel = undefined
  }

  /**
   * The client's input ended while its request waits or runs. Git's client
   * never does that: it keeps its socket open until it has read the flush.
   * A client that closed its socket has gone (killed, timed out, given
   * up), and nobody will read the response: its request is cancelled, out
   * of the queue or with its application interrupted, and its place is
   * free at once rather than when the application next writes, or never.
   * A client that only shut down its writing side (a half-close, as `nc
   * -N` or `socat` do once their input ends: "that was all of my request")
   * still reads, and is answered as any other; the sweep makes sure it is
   * still there (`recheck`).
   */
  private peerEnded(exchange: Exchange): void {
    exchange.cancel = undefined
    exchange.connection.peerClosedUnsafe((closed) => {
      if (closed) this.hungUp(exchange)
      else exchange.halfClosed = true
    })
  }

  /** A half-closed client that has closed its socket since has gone, too. */
  private recheck(exchange: Exchange): void {
    // A probe waits behind what is still being written: one at a time.
    if (exchange.socket.writableLength > 0) return
    exchange.connection.peerClosedUnsafe((closed) => {
      if (closed) this.hungUp(exchange)
    })
  }

  private hungUp(exchange: Exchange): void {
    if (exchange.reason !== undefined) return
    if (exchange.state === "waiting" || exchange.state === "running") this.cut(exchange, "client_gone")
  }

  private close(exchange: Exchange): void {
    this.waiting.delete(exchange)
    exchange.state = "closed"
    exchange.cancel = undefined
    exchange.socket.destroy()
    this.live.delete(exchange)
    if (this.onActivity !== undefined && !sentNothing(exchange)) this.onActivity()
    if (this.live.size === 0) for (const waiter of this.idleWaiters) waiter()
  }

  /** The one place where the time limits of reading, waiting and writing are enforced. */
  sweep(now: number): void {
    const { requestTimeout, requestIdleTimeout, queueTimeout, responseIdleTimeout } = this.settings
    for (const exchange of this.live) {
      switch (exchange.state) {
        case "reading": {
          if (now - exchange.acceptedAt >= requestTimeout) this.cut(exchange, "request_timeout")
          else if (this.stalled(exchange, exchange.socket.bytesRead, now, requestIdleTimeout)) this.cut(exchange, "idle_timeout")
          break
        }
        case "waiting": {
          if (now - exchange.since >= queueTimeout) this.cut(exchange, "queue_timeout")
          else if (exchange.halfClosed) this.recheck(exchange)
          break
        }
        case "running":
        case "ending": {
          if (exchange.halfClosed && exchange.state === "running") this.recheck(exchange)
          // Only a response waiting to go out can stall; a handler that
          // computes for long is `handlerTimeout`'s concern.
          const flushed = exchange.flushed()
          if (flushed === undefined) exchange.seen = -1
          else if (this.stalled(exchange, flushed, now, responseIdleTimeout)) this.cut(exchange, "response_stalled")
          break
        }
      }
    }
  }

  /** Whether `progress` has not moved for `limit` (noting it when it has). */
  private stalled(exchange: Exchange, progress: number, now: number, limit: number): boolean {
    if (progress !== exchange.seen) {
      exchange.seen = progress
      exchange.since = now
      return false
    }
    return now - exchange.since >= limit
  }

  /**
   * Stopping: no new connection is served, and those whose client has not
   * sent a byte yet are dropped (their request has not begun, so nothing is
   * lost). Requests already arriving, waiting or running are finished.
   */
  beginStop(): void {
    this.stopping = true
    for (const exchange of this.live) {
      if (exchange.state === "reading" && sentNothing(exchange)) this.cut(exchange, "shutdown")
    }
  }

  /**
   * Calls `f` whenever a connection that brought a request, or part of
   * one, closes: the moments idle shutdown counts from. A probe (a client
   * that connected and sent nothing) is not activity: something that only
   * checks that the server is there must not keep it alive.
   */
  watchActivity(f: () => void): void {
    this.onActivity = f
  }

  /**
   * Completes when no connection is left: the stop sequence waits on it,
   * and so does idle shutdown (a request in flight, however long, keeps an
   * idle server from stopping).
   */
  readonly idle: Effect.Effect<void> = Effect.callback<void>((resume) => {
    if (this.live.size === 0) return resume(Effect.void)
    const waiter = () => {
      this.idleWaiters.delete(waiter)
      resume(Effect.void)
    }
    this.idleWaiters.add(waiter)
    return Effect.sync(() => {
      this.idleWaiters.delete(waiter)
    })
  })

  /** Connections open now, by state, for a status answer (see `./control.ts`). */
  load(): Load {
    let reading = 0
    for (const exchange of this.live) if (exchange.state === "reading") reading++
    return { open: this.live.size, reading, queued: this.waiting.size, running: this.running }
  }

  /**
   * The end of the grace period: applications are interrupted, everything
   * else is closed, and nothing is started afterwards.
   */
  readonly interrupt: Effect.Effect<void> = Effect.suspend(() => {
    this.closed = true
    const running: Array<Fiber.Fiber<unknown, unknown>> = []
    for (const exchange of this.live) {
      if (exchange.fiber !== undefined) running.push(exchange.fiber)
      this.cut(exchange, "grace_expired")
    }
    return Fiber.interruptAll(running)
  })
}

/** Whether its client has sent nothing yet; one that closes so was a probe: "is anyone listening?". */
const sentNothing = (exchange: Exchange): boolean => exchange.socket.bytesRead === 0

/** Why reading a request failed, as the client's behaviour shows it. */
const readFailure = (error: Connection.TransportError | PktLine.PktLineError, exchange: Exchange): DropReason => {
  if (error._tag === "PktLineError") {
    if (error.reason === "MessageTooLarge") return "too_large"
    if (error.reason !== "UnexpectedEnd") return "malformed"
  }
  // The input ended (or broke) before the request did.
  return sentNothing(exchange) ? "probe" : "incomplete"
}

/** Why an application ended without a response. */
const handlerFailure = (cause: Cause.Cause<unknown>): DropReason => {
  const failure = cause.reasons.find(Cause.isFailReason)
  if (failure === undefined) return "handler_failed"
  if (Cause.isTimeoutError(failure.error)) return "handler_timeout"
  // A reply that could not be written: the client went away.
  if (failure.error instanceof Connection.TransportError && failure.error.operation === "write") return "client_gone"
  return "handler_failed"
}

/**
 * Spans, when a tracer is installed: `SimpleIpc.serve` from accept to the
 * response's end, with `SimpleIpc.accept` (reading the request) inside it,
 * and the application's own spans as the serve span's children.
 */
export interface Spans {
  readonly accepted: () => ServeSpan
}

export interface ServeSpan {
  readonly received: () => void
  readonly around: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  readonly end: (exit: Exit.Exit<unknown, unknown>) => void
}

export const makeSpans = (hand: Tracing.HandSpans): Spans => ({
  accepted: () => {
    const serve = hand.open("SimpleIpc.serve")
    const accept = hand.open("SimpleIpc.accept", serve)
    return {
      received: () => hand.end(accept, Exit.void),
      around: (effect) => Effect.withParentSpan(effect, serve),
      end: (exit) => {
        hand.end(accept, exit)
        hand.end(serve, exit)
      }
    }
  }
})
