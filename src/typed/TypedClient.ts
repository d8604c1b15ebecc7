/**
 * Calling a typed protocol: one method per command, taking the typed
 * request and returning the typed response as an Effect (or a Stream, for
 * a streamed command), over any byte-level transport.
 *
 * Retired in favour of effect/rpc over Simple IPC: call an `RpcGroup` with
 * `RpcClient.make` on `SimpleIpcRpc.layerProtocolClient`. This module
 * stays, unchanged, until the next minor version; the changelog has the
 * migration.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import type * as ByteClient from "../client/Client.ts"
import * as Protocol from "./Protocol.ts"

/**
 * What the typed client sends requests through: the byte-level client
 * ({@link ByteClient.make}), one that starts its server on demand
 * (`AutoStart.make`), or any other.
 *
 * @since 0.1.0
 * @category models
 */
export interface Transport<E> {
  readonly request: (request: Uint8Array) => Effect.Effect<Uint8Array, E>
  readonly requestStream: (request: Uint8Array) => Stream.Stream<Uint8Array, E>
}

/**
 * The arguments of a method: the payload, optional when the command takes
 * none.
 *
 * @since 0.2.0
 * @category utility types
 */
export type PayloadArgs<C extends Protocol.AnyCommand> = undefined extends Protocol.PayloadOf<C>
  ? [payload?: Protocol.PayloadOf<C>]
  : [payload: Protocol.PayloadOf<C>]

/**
 * The method for one command.
 *
 * @since 0.1.0
 * @category models
 */
export type Method<C extends Protocol.AnyCommand, E> = (
  ...payload: PayloadArgs<C>
) => C["stream"] extends true ? Stream.Stream<Protocol.SuccessOf<C>, Protocol.ErrorOf<C> | Protocol.IpcError | E>
  : Effect.Effect<Protocol.SuccessOf<C>, Protocol.ErrorOf<C> | Protocol.IpcError | E>

/**
 * A client of a protocol: one method per command, by command name. Errors
 * are the command's declared failures, {@link Protocol.IpcError} (the
 * server could not serve the request, or the response does not match the
 * schema), and the transport's own (by default the byte-level client's).
 *
 * @since 0.1.0
 * @category models
 */
export type Client<P extends Protocol.AnyProtocol, E = ByteClient.ConnectError | ByteClient.RequestError> = {
  readonly [C in Protocol.Commands<P> as C["name"]]: Method<C, E>
}

const unaryMethod = <E>(command: Protocol.AnyCommand, transport: Transport<E>) => (payload?: unknown) =>
  Protocol.encodeRequest(command, payload).pipe(
    Effect.flatMap(transport.request),
    Effect.flatMap((bytes) => Protocol.decodeResponse(command, bytes))
  )

const streamMethod = <E>(command: Protocol.AnyCommand, transport: Transport<E>) => (payload?: unknown) =>
  Stream.unwrap(Effect.map(Protocol.encodeRequest(command, payload), (bytes) =>
    // Lines are decoded as their bytes arrive: memory holds one read's
    // worth of the response, however long it is.
    transport.requestStream(bytes).pipe(
      Stream.decodeText,
      Stream.splitLines,
      Stream.mapEffect((line) => Protocol.decodeReply(command, line))
    )))

/**
 * A client of `protocol` over `transport`.
 *
 * @example
 * ```ts
 * import { Effect, Schema, Stream } from "effect"
 * import { Client, Protocol, TypedClient } from "effect-simple-ipc"
 *
 * const Calculator = Protocol.make(
 *   Protocol.command("divide", { payload: Schema.Struct({ a: Schema.Number, b: Schema.Number }), success: Schema.Number }),
 *   Protocol.command("count", { payload: Schema.Struct({ to: Schema.Int }), success: Schema.Int, stream: true })
 * )
 * const calculator = TypedClient.make(Calculator, Client.make("/tmp/calc.sock"))
 * const program = Effect.gen(function*() {
 *   const half = yield* calculator.divide({ a: 1, b: 2 }) // number
 *   const all = yield* Stream.runCollect(calculator.count({ to: 3 })) // [1, 2, 3]
 * })
 * ```
 *
 * @deprecated Retired in favour of effect/rpc: call an `RpcGroup` with `RpcClient.make` on `SimpleIpcRpc.layerProtocolClient`.
 * @since 0.1.0
 * @category constructors
 */
export const make = <P extends Protocol.AnyProtocol, E>(protocol: P, transport: Transport<E>): Client<P, E> => {
  const client: Record<string, unknown> = {}
  for (const command of protocol.commands) {
    client[command.name] = command.stream ? streamMethod(command, transport) : unaryMethod(command, transport)
  }
  return client as Client<P, E>
}

/**
 * A layer providing a client of `protocol` as the service `tag`.
 *
 * @example
 * ```ts
 * import { Context, Schema } from "effect"
 * import { Client, Protocol, TypedClient } from "effect-simple-ipc"
 *
 * const Calculator = Protocol.make(
 *   Protocol.command("divide", { payload: Schema.Struct({ a: Schema.Number, b: Schema.Number }), success: Schema.Number }),
 *   Protocol.command("count", { payload: Schema.Struct({ to: Schema.Int }), success: Schema.Int, stream: true })
 * )
 * class CalculatorClient extends Context.Service<CalculatorClient, TypedClient.Client<typeof Calculator>>()(
 *   "app/CalculatorClient"
 * ) {
 *   static readonly layer = TypedClient.layer(CalculatorClient, Calculator, Client.make("/tmp/calc.sock"))
 * }
 * ```
 *
 * @deprecated Retired in favour of effect/rpc: call an `RpcGroup` with `RpcClient.make` on `SimpleIpcRpc.layerProtocolClient`.
 * @since 0.1.0
 * @category layers
 */
export const layer = <I, P extends Protocol.AnyProtocol, E>(
  tag: Context.Key<I, Client<P, E>>,
  protocol: P,
  transport: Transport<E>
): Layer.Layer<I> => Layer.succeed(tag, make(protocol, transport))
