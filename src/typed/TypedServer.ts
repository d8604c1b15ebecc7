/**
 * Serving a typed protocol: one handler per command, receiving the decoded
 * request and answering with a typed value (or a stream of them). The
 * result is an ordinary Simple IPC server, as a `Layer` or a scoped value.
 *
 * Retired in favour of effect/rpc over Simple IPC: serve an `RpcGroup`
 * with `RpcServer.layer` on `SimpleIpcRpc.layerProtocolServer`. This
 * module stays, unchanged, until the next minor version; the changelog has
 * the migration.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Lifetime from "../server/internal/lifetime.ts"
import * as Server from "../server/Server.ts"
import type * as Connection from "../transport/Connection.ts"
import * as Protocol from "./Protocol.ts"

/**
 * The handler of one command: it takes the request's payload; a unary
 * command answers with an Effect, a streamed one with a Stream (of its
 * `success` items). Failures of the command's error schema reach
 * the client typed; anything else reaches it as an `IpcError`
 * (`HandlerFailed`) and is logged here.
 *
 * Handlers may use {@link Server.IpcServer}, the running server (to stop
 * it, for instance); it is provided for them.
 *
 * @since 0.1.0
 * @category models
 */
export type Handler<C extends Protocol.AnyCommand, R = never> = (
  payload: Protocol.PayloadOf<C>
) => C["stream"] extends true ? Stream.Stream<Protocol.SuccessOf<C>, Protocol.ErrorOf<C>, R>
  : Effect.Effect<Protocol.SuccessOf<C>, Protocol.ErrorOf<C>, R>

/**
 * One handler per command of the protocol, by command name.
 *
 * @since 0.1.0
 * @category models
 */
export type Handlers<P extends Protocol.AnyProtocol> = {
  readonly [C in Protocol.Commands<P> as C["name"]]: Handler<C, any>
}

/**
 * The services the handlers need.
 *
 * @since 0.1.0
 * @category utility types
 */
export type HandlersServices<H> = {
  [K in keyof H]: H[K] extends (...args: any) => Effect.Effect<any, any, infer R> ? R
    : H[K] extends (...args: any) => Stream.Stream<any, any, infer R> ? R
    : never
}[keyof H]

/** The services left for the caller to provide: the server itself is provided here. */
type Requirements<H> = Exclude<HandlersServices<H>, Server.IpcServer>

/** Wraps a declared failure, so it cannot be confused with a failure of the connection. */
class Declared {
  readonly error: unknown
  constructor(error: unknown) {
    this.error = error
  }
}

/**
 * The byte-level handler that serves a protocol: decodes each request,
 * runs the command's handler, encodes its answer. Requests it cannot serve
 * get an `error` reply; the connection itself only fails when the client
 * goes away. {@link make} serves a protocol with it; use it directly to
 * serve a protocol beside other requests, or with options of your own.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Protocol, Server, TypedServer } from "effect-simple-ipc"
 *
 * const Greeter = Protocol.make(Protocol.command("greet", { payload: Schema.String, success: Schema.String }))
 * const typed = TypedServer.toHandler(Greeter, { greet: (name) => Effect.succeed(`hello, ${name}`) })
 *
 * // Plain `version` requests beside the typed ones.
 * const server = Server.make("/tmp/greeter.sock", (request, reply) =>
 *   new TextDecoder().decode(request) === "version" ? reply("1.0.0") : typed(request, reply))
 * ```
 *
 * @deprecated Retired in favour of effect/rpc: serve an `RpcGroup` with `RpcServer.layer` on `SimpleIpcRpc.layerProtocolServer`.
 * @since 0.1.0
 * @category constructors
 */
export const toHandler = <P extends Protocol.AnyProtocol, H extends Handlers<P>>(
  protocol: P,
  handlers: H
): Server.Handler<Connection.TransportError, HandlersServices<H>> =>
(bytes, reply) =>
  Effect.flatMap(Effect.result(Protocol.decodeRequest(protocol, bytes)), (decoded) => {
    if (Result.isFailure(decoded)) return reply(Protocol.encodeError(decoded.failure))
    const { command, payload } = decoded.success
    const handler = (handlers as Record<string, (payload: unknown) => any>)[command.name]!
    return command.stream
      ? serveStream(command, Stream.suspend(() => handler(payload)), reply)
      : serveUnary(command, Effect.suspend(() => handler(payload)), reply)
  })

const serveUnary = <R>(
  command: Protocol.AnyCommand,
  effect: Effect.Effect<unknown, unknown, R>,
  reply: Server.Reply
): Effect.Effect<void, Connection.TransportError, R> =>
  Effect.flatMap(Effect.exit(effect), (exit) => {
    if (exit._tag === "Success") {
      return Result.match(Protocol.encodeResponse(command, exit.value), {
        onSuccess: reply,
        onFailure: (error) => reply(Protocol.encodeError(error))
      })
    }
    return replyToCause(command, exit.cause, reply, (error) => Protocol.encodeFailure(command, error))
  })

const serveStream = <R>(
  command: Protocol.AnyCommand,
  stream: Stream.Stream<unknown, unknown, R>,
  reply: Server.Reply
): Effect.Effect<void, Connection.TransportError, R> =>
  // One reply per chunk of the stream: every item goes to the wire as soon
  // as it is produced, and the stream is pulled no faster than the client
  // reads (a reply waits while the socket is full).
  Stream.mapError(stream, (error) => new Declared(error)).pipe(
    Stream.runForEachArray((items): Effect.Effect<void, Connection.TransportError | Protocol.IpcError> =>
      Result.match(Protocol.encodeItems(command, items), {
        onSuccess: reply,
        onFailure: Effect.fail
      })
    ),
    Effect.catchCause((cause) =>
      replyToCause(command, cause, reply, (failure) =>
        failure instanceof Declared
          ? Protocol.encodeFailure(command, failure.error)
          : failure instanceof Protocol.IpcError
          ? Protocol.encodeError(failure)
          : undefined)
    )
  )

/**
 * Ends a response whose handler did not succeed. A failure the command
 * declares, or an `IpcError`, gets its reply line; a failure of the
 * connection (no `line` for it) and interruption propagate, since there is
 * no one left to tell; a defect is logged and reported as `HandlerFailed`.
 */
const replyToCause = <E>(
  command: Protocol.AnyCommand,
  cause: Cause.Cause<E>,
  reply: Server.Reply,
  line: (failure: E) => string | undefined
): Effect.Effect<void, Connection.TransportError> => {
  if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
  const failure = Cause.findError(cause)
  if (Result.isSuccess(failure) && !Cause.hasDies(cause)) {
    const text = line(failure.success)
    return text === undefined ? Effect.fail(failure.success as Connection.TransportError) : reply(text)
  }
  return Effect.andThen(
    Effect.logError(`handler of '${command.name}' failed`, cause),
    reply(Protocol.encodeError(
      new Protocol.IpcError({ reason: "HandlerFailed", command: command.name, detail: describe(Cause.squash(cause)) })
    ))
  )
}

const describe = (defect: unknown): string => defect instanceof Error ? defect.message : String(defect)

/**
 * Starts a server for `protocol` at `path` for the life of the scope (see
 * {@link Server.make} for startup, options and shutdown).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Client, Protocol, TypedClient, TypedServer } from "effect-simple-ipc"
 *
 * const Greeter = Protocol.make(Protocol.command("greet", { payload: Schema.String, success: Schema.String }))
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     yield* TypedServer.make(Greeter, "/tmp/greeter.sock", { greet: (name) => Effect.succeed(`hello, ${name}`) })
 *     const greeter = TypedClient.make(Greeter, Client.make("/tmp/greeter.sock"))
 *     console.log(yield* greeter.greet("world")) // hello, world
 *   })
 * )
 * ```
 *
 * @deprecated Retired in favour of effect/rpc: serve an `RpcGroup` with `RpcServer.make` on `SimpleIpcRpc.makeProtocolServer`.
 * @since 0.1.0
 * @category constructors
 */
export const make = <P extends Protocol.AnyProtocol, H extends Handlers<P>>(
  protocol: P,
  path: string,
  handlers: H,
  options?: Server.Options
): Effect.Effect<Server.Server, Server.StartError, Scope.Scope | Requirements<H>> =>
  Effect.gen(function*() {
    // Handlers may ask for the server they run in; it exists only once
    // started, and no request can arrive before that.
    const self = yield* Deferred.make<Server.Server>()
    const handler = toHandler(protocol, handlers)
    const server = yield* Server.make(
      path,
      (request, reply) =>
        Effect.provideServiceEffect(handler(request, reply), Server.IpcServer, Deferred.await(self)) as Effect.Effect<
          void,
          Connection.TransportError,
          Requirements<H>
        >,
      options
    )
    yield* Deferred.succeed(self, server)
    return server
  })

/**
 * Starts a server for `protocol` and runs it until it stops (a handler
 * called `stop` on {@link Server.IpcServer}, or its socket was taken).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Protocol, Server, TypedServer } from "effect-simple-ipc"
 *
 * const Counter = Protocol.make(
 *   Protocol.command("next", { success: Schema.Int }),
 *   Protocol.command("stop")
 * )
 *
 * let count = 0
 * const daemon = TypedServer.run(Counter, "/tmp/counter.sock", {
 *   next: () => Effect.sync(() => ++count),
 *   stop: () => Server.IpcServer.use((server) => server.stop)
 * })
 *
 * Effect.runFork(daemon) // ends once a client sends `stop`
 * ```
 *
 * @deprecated Retired in favour of effect/rpc: serve an `RpcGroup` with `RpcServer.layer` on `SimpleIpcRpc.layerProtocolServer`, launched.
 * @since 0.1.0
 * @category running
 */
export const run = <P extends Protocol.AnyProtocol, H extends Handlers<P>>(
  protocol: P,
  path: string,
  handlers: H,
  options?: Server.Options
): Effect.Effect<void, Server.StartError, Requirements<H>> =>
  Effect.scoped(Effect.flatMap(make(protocol, path, handlers, options), (server) => server.join))

/**
 * A layer that serves `protocol` at `path` for as long as it lives: a
 * daemon is this layer, launched. When the server stops by itself (a
 * handler called `stop` on {@link Server.IpcServer}, the socket was
 * stolen) and nothing has awaited its `join`, the fiber that built the
 * layer is interrupted, so that `Layer.launch` ends and the daemon's
 * process with it (see {@link Server.layer}).
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Layer, Schema, Stream } from "effect"
 * import { Protocol, Server, TypedServer } from "effect-simple-ipc"
 *
 * class DivideByZero extends Schema.TaggedError<DivideByZero>()("DivideByZero", {}) {}
 *
 * const Calculator = Protocol.make(
 *   Protocol.command("divide", {
 *     payload: Schema.Struct({ a: Schema.Number, b: Schema.Number }),
 *     success: Schema.Number,
 *     error: DivideByZero
 *   }),
 *   Protocol.command("count", { payload: Schema.Struct({ to: Schema.Int }), success: Schema.Int, stream: true }),
 *   Protocol.command("stop")
 * )
 *
 * const CalculatorLive = TypedServer.layer(Calculator, "/tmp/calc.sock", {
 *   divide: ({ a, b }) => b === 0 ? Effect.fail(new DivideByZero()) : Effect.succeed(a / b),
 *   count: ({ to }) => Stream.range(1, to),
 *   stop: () => Server.IpcServer.use((server) => server.stop)
 * })
 *
 * // Serves until `stop`, SIGINT or SIGTERM; then the process exits.
 * NodeRuntime.runMain(Layer.launch(CalculatorLive))
 * ```
 *
 * @deprecated Retired in favour of effect/rpc: serve an `RpcGroup` with `RpcServer.layer` on `SimpleIpcRpc.layerProtocolServer`.
 * @since 0.1.0
 * @category layers
 */
export const layer = <P extends Protocol.AnyProtocol, H extends Handlers<P>>(
  protocol: P,
  path: string,
  handlers: H,
  options?: Server.Options
): Layer.Layer<Server.IpcServer, Server.StartError, Requirements<H>> =>
  Layer.effect(Server.IpcServer, Effect.flatMap(make(protocol, path, handlers, options), Lifetime.endWithServer))
