/**
 * This library's effect/rpc transport as a client driver:
 * `node bench/ipc/ours-rpc/client.ts <W1|W2> <socketPath> [k=v...]`.
 *
 * One `RpcClient` (built by the first, warm-up, request) over
 * `SimpleIpcRpc.layerProtocolClient` (told the group, so that unary calls
 * are read in one piece): every call is a round trip on a
 * connection of its own, as Simple IPC defines it, so W1's 8 concurrent
 * callers each connect per call, as in the pkt-line implementations.
 */
import { Effect, Exit, Layer, Scope } from "effect"
import { RpcClient } from "effect/rpc"
import * as SimpleIpcRpc from "../../../dist/rpc/SimpleIpcRpc.js"
import { type IpcClient, runClientDriver } from "../driver.ts"
import { type BenchClient, call, noStreamedResponses } from "../effect-rpc/connect.ts"
import { BenchRpcs, rpcOptions } from "../effect-rpc/group.ts"
import { options } from "../ours/client.ts"

const scope = Effect.runSync(Scope.make())
const clients = new Map<string, Promise<BenchClient>>()
const clientFor = (socketPath: string): Promise<BenchClient> => {
  let client = clients.get(socketPath)
  if (!client) {
    client = Effect.runPromise(
      Effect.gen(function*() {
        const protocol = yield* Layer.build(SimpleIpcRpc.layerProtocolClient(socketPath, { ...options, group: BenchRpcs }))
        return yield* RpcClient.make(BenchRpcs, rpcOptions).pipe(Effect.provideContext(protocol))
      }).pipe(Scope.provide(scope))
    )
    clients.set(socketPath, client)
  }
  return client
}

/** The ours-rpc {@link IpcClient}: W1 and W2 requests only. */
export const oursRpcClient: IpcClient = {
  request: async (socketPath, request) => Effect.runPromise(call(await clientFor(socketPath), request)),
  requestStream: noStreamedResponses,
  close: () => Effect.runPromise(Scope.close(scope, Exit.void))
}

if (import.meta.main) await runClientDriver(oursRpcClient)
