/**
 * effect/rpc's client `Protocol` on a Simple IPC client: every call is one
 * round trip on a connection of its own, its response read as it arrives.
 */
import * as Effect from "effect/Effect"
import { type Rpc, RpcClient, RpcClientError, type RpcGroup, RpcSchema, RpcSerialization } from "effect/rpc"
import type * as RpcMessage from "effect/rpc/RpcMessage"
import * as Socket from "effect/socket/Socket"
import type * as Client from "../../client/Client.ts"
import type { ClientOptions } from "../SimpleIpcRpc.ts"
import * as Wire from "./wire.ts"

const defect = (message: string, cause?: unknown) =>
  new RpcClientError.RpcClientError({ reason: new RpcClientError.RpcClientDefect({ message, cause }) })

/**
 * `reason` saying what `error` says: effect's socket errors have fixed
 * messages ("An error occurred during Open"), where ours name the path and
 * the system's reason, which a person needs to act.
 */
const tellingWhy = <A extends Socket.SocketErrorReason>(reason: A, error: unknown): A => {
  if (error instanceof Error) Object.defineProperty(reason, "message", { value: error.message, configurable: true })
  return reason
}

/**
 * A failure of the round trip as effect/rpc's client error, the failure
 * itself (with its path, errno and reason) kept as the reason's `cause`:
 * not connecting is an open error, a broken exchange a read or write error.
 */
const asRpcClientError = (error: unknown): RpcClientError.RpcClientError => {
  if (error instanceof RpcClientError.RpcClientError) return error
  const tag = (error as { readonly _tag?: unknown } | undefined)?._tag
  const operation = (error as { readonly operation?: unknown } | undefined)?.operation
  const reason = tag === "ConnectError" || operation === "connect"
    ? new Socket.SocketOpenError({ kind: "Unknown", cause: error })
    : operation === "write"
    ? new Socket.SocketWriteError({ cause: error })
    : new Socket.SocketReadError({ cause: error })
  return new RpcClientError.RpcClientError({ reason: tellingWhy(reason, error) })
}

/** The tags of the group's calls whose response is one value, not a stream. */
const unaryTags = (group: RpcGroup.Any | undefined): ReadonlySet<string> => {
  const tags = new Set<string>()
  const requests = (group as RpcGroup.RpcGroup<Rpc.Any> | undefined)?.requests
  requests?.forEach((rpc, tag) => {
    if (!RpcSchema.isStreamSchema((rpc as Rpc.AnyWithProps).successSchema)) tags.add(tag)
  })
  return tags
}

/** The protocol, sending every call through `client`. */
export const make = (client: Client.IpcClient["Service"], options?: ClientOptions): Effect.Effect<RpcClient.Protocol["Service"]> =>
  RpcClient.Protocol.make((writeResponse) => {
    const unary = unaryTags(options?.group)
    const call = (clientId: number, request: RpcMessage.RequestEncoded): Effect.Effect<void, RpcClientError.RpcClientError> =>
      Effect.suspend(() => {
        if (!Wire.isWireTag(request.tag)) {
          // A bug of the program that defined the group, found at its first call.
          return Effect.fail(defect(`the tag '${request.tag}' cannot go on the wire: it is empty, has whitespace or starts with '@'`))
        }
        const requestId = request.id
        const reader = new Wire.ResponseReader()
        const fail = (problem: string) => Effect.fail(defect(`could not read the response to '${request.tag}': ${problem}`))
        const read = (piece: Uint8Array, whole?: boolean) => {
          const items = reader.push(piece, whole)
          if (!Array.isArray(items)) return fail((items as { readonly problem: string }).problem)
          // Waits while the caller's buffer is full: the next read waits with
          // it, and the server's writes in turn.
          return items.length === 0 ? Effect.void : writeResponse(clientId, {
            _tag: "Chunk",
            requestId,
            values: items as unknown as readonly [unknown, ...Array<unknown>]
          })
        }
        const bytes = Wire.encodeRequest(request)
        return (unary.has(request.tag)
          ? Effect.flatMap(client.request(bytes), (response) => read(response, true))
          : client.requestForEach(bytes, read)).pipe(
          Effect.mapError(asRpcClientError),
          Effect.flatMap(() => {
            const exit = reader.end()
            return "problem" in exit ? fail(exit.problem) : writeResponse(clientId, { _tag: "Exit", requestId, exit })
          })
        )
      })
    return Effect.succeed({
      // Only calls travel: the connection of a call that is interrupted is
      // closed with it (the RPC client interrupts the call's fiber), which
      // is what tells the server; acknowledgements and pings have no place
      // on a one-request connection.
      send: (clientId, message) => message._tag === "Request" ? call(clientId, message) : Effect.void,
      supportsAck: false,
      supportsTransferables: false,
      codecFor: RpcSerialization.json.codecFor
    })
  })
