/**
 * This library's RPC client protocol driven without `RpcClient`:
 * `node bench/ipc/ours-rpc/client-protocol-only.ts <W1|W2> <socketPath> [k=v...]`.
 *
 * Each call is handed to `SimpleIpcRpc.layerProtocolClient`'s protocol as
 * the encoded request `RpcClient` would send, and resolves when the
 * protocol writes its exit: the cost of the protocol (wire encoding, the
 * connection, reading the answer) without `RpcClient`'s own (its fibers,
 * spans and schemas). Against ./wire-server.ts, with ours-rpc-client beside
 * it, it tells which of the two a call's time goes to.
 */
import { Context, Effect, Exit, Layer, Scope } from "effect"
import { RpcClient } from "effect/rpc"
import type * as RpcMessage from "effect/rpc/RpcMessage"
import * as SimpleIpcRpc from "../../../dist/rpc/SimpleIpcRpc.js"
import { type IpcClient, runClientDriver } from "../driver.ts"
import { noStreamedResponses, procedureOf } from "../effect-rpc/connect.ts"
import { BenchRpcs } from "../effect-rpc/group.ts"
import { options } from "../ours/client.ts"

const scope = Effect.runSync(Scope.make())
const waiting = new Map<string, (answer: Uint8Array) => void>()
let nextId = 0

// The protocol for the driver's one socket path, made with the first call.
let madeProtocol: Promise<RpcClient.Protocol["Service"]> | undefined
const protocolFor = (socketPath: string): Promise<RpcClient.Protocol["Service"]> =>
  madeProtocol ??= Effect.runPromise(
    Effect.gen(function*() {
      const context = yield* Layer.build(SimpleIpcRpc.layerProtocolClient(socketPath, { ...options, group: BenchRpcs }))
      const made = Context.get(context, RpcClient.Protocol)
      yield* Effect.forkIn(
        made.run(0, (message: RpcMessage.FromServerEncoded) =>
          Effect.sync(() => {
            if (message._tag !== "Exit" || message.exit._tag !== "Success") return
            const id = String(message.requestId)
            waiting.get(id)?.(Buffer.from(message.exit.value as string, "latin1"))
            waiting.delete(id)
          })),
        scope
      )
      return made
    }).pipe(Scope.provide(scope))
  )

/** The ours-rpc-protocol {@link IpcClient}: W1 and W2 requests only. */
const protocolClient: IpcClient = {
  request: async (socketPath, request) => {
    const protocol = await protocolFor(socketPath)
    const procedure = procedureOf(request)
    if (procedure instanceof Error) throw procedure
    const id = String(nextId++)
    const answer = new Promise<Uint8Array>((resolve) => waiting.set(id, resolve))
    await Effect.runPromise(protocol.send(0, { _tag: "Request", id, ...procedure, headers: [] }))
    return answer
  },
  requestStream: noStreamedResponses,
  close: () => Effect.runPromise(Scope.close(scope, Exit.void))
}

await runClientDriver(protocolClient)
