/**
 * effect/rpc over Simple IPC: any `RpcGroup` served by a Git-style daemon
 * socket with `RpcServer.layer(group)`, and called with
 * `RpcClient.make(group)`, the group and its handlers unchanged. This
 * module provides the two `Protocol`s: {@link layerProtocolServer} on a
 * Simple IPC server (its startup lock, stale and stolen sockets, limits,
 * graceful stop), and {@link layerProtocolClient} on the Simple IPC client
 * (Git's connect rules; {@link layerProtocolAutoStart} starts the daemon
 * on demand).
 *
 * One call is one connection, as Simple IPC defines it. A streamed call's
 * items go out as the handler produces them, no faster than the client
 * reads (a client that takes none of them for the server's
 * `responseIdleTimeout`, 10 s by default, is dropped); interrupting a call
 * closes its connection, and the server then interrupts the call's
 * handler, as it does for any request whose client has gone. The server's other options (`threads`, `handlerTimeout`, ...)
 * apply to calls as to any request.
 * Typed failures, defects, `RpcMiddleware` (headers included) and span
 * propagation work as with effect/rpc's own socket protocol.
 *
 * ## The wire
 *
 * Plain text, so that `simple-ipc send`, Git's client and scripts can make
 * calls and read answers. Values are in their JSON form (the RPC's schemas
 * through `Schema.toCodecJson`, as effect/rpc's JSON serializations do).
 *
 * - Request: `<tag>`, then a space and the payload's JSON unless that is
 *   `null`: `Add {"a":1,"b":2}`; `Ping`. Before it, optional lines starting
 *   with `@`: `@headers [["name","value"],...]` and
 *   `@span <traceId> <spanId> <0|1>`. Other `@` lines are ignored, for
 *   later versions. A tag has no whitespace and does not start with `@`.
 * - Response: each item of a streamed response is one line of JSON
 *   (`1\n2\n3\n`), sent as produced. The response ends with its exit, on
 *   no newline of its own: the success value's JSON (nothing when it is
 *   `null`, or for a stream); `fail <JSON>` for a failure the RPC declares;
 *   `die <JSON>` for a defect (also: an unknown tag, a payload its schema
 *   refuses, a request that cannot be read); `cause <JSON array>` for any
 *   other cause (an interruption, several failures), as effect/rpc encodes
 *   a cause. JSON never starts with `fail `, `d` or `c`, so an answer
 *   cannot be taken for a failure. A defect that is a message is cut to
 *   its first 1024 characters, so that a request is never echoed whole.
 *
 * ```text
 * request  0015Add {"a":1,"b":2}0000
 * response 000530000
 * request  0018Divide {"a":1,"b":0}0000
 * response 0020fail {"_tag":"DivideByZero"}0000
 * request  0012Count {"to":3}0000
 * response 000a1\n2\n3\n0000
 * ```
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { RpcClient, type RpcGroup, RpcServer } from "effect/rpc"
import * as AutoStart from "../client/AutoStart.ts"
import * as Client from "../client/Client.ts"
import * as Lifetime from "../server/internal/lifetime.ts"
import * as Server from "../server/Server.ts"
import * as ClientProtocol from "./internal/clientProtocol.ts"
import * as ServerProtocol from "./internal/serverProtocol.ts"

/**
 * Starts a Simple IPC server at `path` for the life of the scope (see
 * `Server.make` for startup, options and shutdown), and gives the
 * `RpcServer.Protocol` that serves its calls, with the server itself.
 * {@link layerProtocolServer} is this as a layer.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Rpc, RpcGroup, RpcServer } from "effect/rpc"
 * import { SimpleIpcRpc } from "effect-simple-ipc"
 *
 * class Greeter extends RpcGroup.make(Rpc.make("Greet", { payload: { name: Schema.String }, success: Schema.String })) {}
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const { protocol, server } = yield* SimpleIpcRpc.makeProtocolServer("/tmp/greeter.sock")
 *     yield* RpcServer.make(Greeter).pipe(
 *       Effect.provideService(RpcServer.Protocol, protocol),
 *       Effect.provide(Greeter.toLayer({ Greet: ({ name }) => Effect.succeed(`hello, ${name}`) })),
 *       Effect.forkScoped
 *     )
 *     yield* server.join
 *   })
 * )
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeProtocolServer: (
  path: string,
  options?: Server.Options
) => Effect.Effect<
  { readonly protocol: RpcServer.Protocol["Service"]; readonly server: Server.Server },
  Server.StartError,
  Scope.Scope
> = ServerProtocol.make

/**
 * A layer providing `RpcServer.Protocol` on a Simple IPC server at `path`,
 * running for as long as the layer lives, and the server as
 * `Server.IpcServer` (for a handler that stops the daemon, say). Serve a
 * group on it with `RpcServer.layer(group)`; a daemon is that layer,
 * launched.
 *
 * As with `Server.layer`: when the server stops by itself (`stop` on
 * `Server.IpcServer`, its socket stolen) and nothing awaited its `join`,
 * the fiber that built the layer is interrupted, so that `Layer.launch`
 * ends, and the daemon's process with it.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Effect, Layer, Schema, Stream } from "effect"
 * import { Rpc, RpcGroup, RpcServer } from "effect/rpc"
 * import { Server, SimpleIpcRpc } from "effect-simple-ipc"
 *
 * class DivideByZero extends Schema.TaggedError<DivideByZero>()("DivideByZero", {}) {}
 *
 * class Calculator extends RpcGroup.make(
 *   Rpc.make("Divide", { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number, error: DivideByZero }),
 *   Rpc.make("Count", { payload: { to: Schema.Int }, success: Schema.Int, stream: true }),
 *   Rpc.make("Stop")
 * ) {}
 *
 * const Handlers = Calculator.toLayer({
 *   Divide: ({ a, b }) => b === 0 ? Effect.fail(new DivideByZero()) : Effect.succeed(a / b),
 *   Count: ({ to }) => Stream.range(1, to),
 *   Stop: () => Server.IpcServer.use((server) => server.stop)
 * })
 *
 * const Daemon = RpcServer.layer(Calculator).pipe(
 *   Layer.provide(Handlers),
 *   Layer.provide(SimpleIpcRpc.layerProtocolServer("/tmp/calc.sock"))
 * )
 *
 * // Serves until `Stop`, SIGINT or SIGTERM; then the process exits.
 * NodeRuntime.runMain(Layer.launch(Daemon))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerProtocolServer = (
  path: string,
  options?: Server.Options
): Layer.Layer<RpcServer.Protocol | Server.IpcServer, Server.StartError> =>
  Layer.effectContext(
    Effect.gen(function*() {
      const { protocol, server } = yield* ServerProtocol.make(path, options)
      const running = yield* Lifetime.endWithServer(server)
      return Context.make(RpcServer.Protocol, protocol).pipe(Context.add(Server.IpcServer, running))
    })
  )

/**
 * The `RpcClient.Protocol` that sends every call through `client`, the
 * byte-level client: `Client.make(path)`, `AutoStart.make(path, ...)`, or
 * any other `IpcClient`. Each call is a round trip on a connection of its
 * own, with `client`'s options (timeouts, retries). Failures of the round
 * trip are `RpcClientError`s whose reason (`SocketOpenError` when no
 * connection could be made, `SocketReadError` or `SocketWriteError` after)
 * keeps the client's error, with its path and errno, as `cause`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Rpc, RpcClient, RpcGroup } from "effect/rpc"
 * import { Client, SimpleIpcRpc } from "effect-simple-ipc"
 *
 * class Greeter extends RpcGroup.make(Rpc.make("Greet", { payload: { name: Schema.String }, success: Schema.String })) {}
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const protocol = yield* SimpleIpcRpc.makeProtocolClient(Client.make("/tmp/greeter.sock"))
 *     const greeter = yield* RpcClient.make(Greeter).pipe(Effect.provideService(RpcClient.Protocol, protocol))
 *     return yield* greeter.Greet({ name: "world" })
 *   })
 * )
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeProtocolClient: (
  client: Client.IpcClient["Service"],
  options?: ClientOptions
) => Effect.Effect<RpcClient.Protocol["Service"]> = ClientProtocol.make

/**
 * What a client protocol may know of the calls it sends.
 *
 * `group`: the group whose calls go through it (or one of them). Its unary
 * calls' responses are then read in one piece, which is faster (small
 * calls cost about a third less); without it, every response is read as it
 * arrives, which is right for unary and streamed calls alike.
 *
 * @since 0.2.0
 * @category models
 */
export interface ClientOptions {
  readonly group?: RpcGroup.Any | undefined
}

/**
 * A layer providing `RpcClient.Protocol` over the `Client.IpcClient` in
 * context: give it `Client.layer(path)` or `AutoStart.layer(path, ...)`.
 *
 * @example
 * ```ts
 * import { Effect, Layer, Schema } from "effect"
 * import { Rpc, RpcClient, RpcGroup } from "effect/rpc"
 * import { Client, SimpleIpcRpc } from "effect-simple-ipc"
 *
 * class Greeter extends RpcGroup.make(Rpc.make("Greet", { payload: { name: Schema.String }, success: Schema.String })) {}
 *
 * const Protocol = SimpleIpcRpc.layerProtocol({ group: Greeter }).pipe(
 *   Layer.provide(Client.layer("/tmp/greeter.sock", { timeout: "5 seconds" }))
 * )
 *
 * const program = Effect.gen(function*() {
 *   const greeter = yield* RpcClient.make(Greeter)
 *   return yield* greeter.Greet({ name: "world" })
 * }).pipe(Effect.scoped, Effect.provide(Protocol))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerProtocol = (options?: ClientOptions): Layer.Layer<RpcClient.Protocol, never, Client.IpcClient> =>
  Layer.effect(RpcClient.Protocol, Effect.flatMap(Client.IpcClient, (client) => ClientProtocol.make(client, options)))

/**
 * A layer providing `RpcClient.Protocol` for the server at `path`: every
 * call connects with Git's rules and `options` (see `Client.make`), and
 * `options.group` makes its unary calls cheaper (see {@link ClientOptions}).
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { Rpc, RpcClient, RpcGroup } from "effect/rpc"
 * import { SimpleIpcRpc } from "effect-simple-ipc"
 *
 * class Calculator extends RpcGroup.make(
 *   Rpc.make("Add", { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number }),
 *   Rpc.make("Count", { payload: { to: Schema.Int }, success: Schema.Int, stream: true })
 * ) {}
 *
 * const program = Effect.gen(function*() {
 *   const calculator = yield* RpcClient.make(Calculator)
 *   const sum = yield* calculator.Add({ a: 1, b: 2 }) // 3
 *   const items = yield* Stream.runCollect(calculator.Count({ to: 3 })) // [1, 2, 3]
 * }).pipe(Effect.scoped, Effect.provide(SimpleIpcRpc.layerProtocolClient("/tmp/calc.sock", { group: Calculator })))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerProtocolClient = (
  path: string,
  options?: Client.RequestOptions & ClientOptions
): Layer.Layer<RpcClient.Protocol> => Layer.effect(RpcClient.Protocol, ClientProtocol.make(Client.make(path, options), options))

/**
 * A layer providing `RpcClient.Protocol` for the daemon at `path`, which
 * it starts if none answers: once when the layer is built (so that a
 * daemon that cannot start fails the layer, with its `AutoStartError`),
 * and again for any call that later finds none (see `AutoStart.make`).
 * Clients racing to start the daemon end up served by one: the server's
 * startup lock lets only one daemon listen.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Rpc, RpcClient, RpcGroup } from "effect/rpc"
 * import { SimpleIpcRpc } from "effect-simple-ipc"
 *
 * class Calculator extends RpcGroup.make(
 *   Rpc.make("Add", { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number })
 * ) {}
 *
 * const Protocol = SimpleIpcRpc.layerProtocolAutoStart("/tmp/calc.sock", {
 *   command: process.execPath,
 *   args: ["calc-daemon.js"],
 *   group: Calculator
 * })
 *
 * const program = Effect.gen(function*() {
 *   const calculator = yield* RpcClient.make(Calculator)
 *   return yield* calculator.Add({ a: 1, b: 2 })
 * }).pipe(Effect.scoped, Effect.provide(Protocol))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerProtocolAutoStart = (
  path: string,
  options: AutoStart.Options & ClientOptions
): Layer.Layer<RpcClient.Protocol, AutoStart.AutoStartError> =>
  Layer.effect(
    RpcClient.Protocol,
    Effect.andThen(AutoStart.ensureRunning(path, options), ClientProtocol.make(AutoStart.make(path, options), options))
  )
