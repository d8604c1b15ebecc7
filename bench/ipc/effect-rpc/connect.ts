/**
 * What the two effect/rpc client drivers share, so that they differ only in
 * how long a connection lives: opening an `RpcClient` on a connection, and
 * mapping the shared driver's byte-level requests onto the procedures.
 */
import { NodeSocket } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { RpcClient, RpcSerialization } from "effect/rpc"
import type { IpcClient } from "../driver.ts"
import { BenchRpcs, rpcOptions } from "./group.ts"

/**
 * An `RpcClient` for {@link BenchRpcs} on a new connection to `socketPath`,
 * built the way the Effect documentation suggests (socket protocol, ndjson
 * serialization, default options). The socket is opened by the protocol's
 * read loop and closed when the enclosing scope closes.
 */
export const connect = (socketPath: string) =>
  Effect.gen(function*() {
    const protocol = yield* Layer.build(
      RpcClient.layerProtocolSocket().pipe(
        Layer.provide(NodeSocket.layerNet({ path: socketPath })),
        Layer.provide(RpcSerialization.layerNdjson)
      )
    )
    return yield* RpcClient.make(BenchRpcs, rpcOptions).pipe(Effect.provideContext(protocol))
  })

/** The client {@link connect} makes. */
export type BenchClient = Effect.Success<ReturnType<typeof connect>>

const SENDBYTES = "sendbytes "

/** A procedure of {@link BenchRpcs} and its payload. */
export type Procedure =
  | { readonly tag: "Ping"; readonly payload: undefined }
  | { readonly tag: "SendBytes"; readonly payload: { readonly ballast: string } }

/**
 * The procedure one request of the shared driver stands for: `ping` →
 * Ping, `sendbytes <b>` → SendBytes; an error naming the request for any
 * other.
 */
export const procedureOf = (request: Uint8Array): Procedure | Error => {
  const text = Buffer.from(request).toString("latin1")
  if (text === "ping") return { tag: "Ping", payload: undefined }
  if (text.startsWith(SENDBYTES)) return { tag: "SendBytes", payload: { ballast: text.slice(SENDBYTES.length) } }
  return new Error(`no procedure for ${JSON.stringify(text.slice(0, 40))}`)
}

/**
 * One request of the shared driver as a procedure call (see
 * {@link procedureOf}); the answer comes back as bytes like a pkt-line
 * response's payload.
 */
export const call = (client: BenchClient, request: Uint8Array) => {
  const procedure = procedureOf(request)
  const answer = procedure instanceof Error
    ? Effect.fail(procedure)
    : procedure.tag === "Ping"
    ? client.Ping()
    : client.SendBytes(procedure.payload)
  return Effect.map(answer, (s): Uint8Array => Buffer.from(s, "latin1"))
}

/** Both drivers' `requestStream`: the procedures have no streamed response (W1 and W2 only). */
export const noStreamedResponses: IpcClient["requestStream"] = () =>
  Promise.reject(new Error("effect-rpc: streamed responses are not part of this comparison"))
