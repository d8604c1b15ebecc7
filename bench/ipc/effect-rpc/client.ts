/**
 * Comparison client driver for `effect/rpc`, persistent-connection variant:
 * `node bench/ipc/effect-rpc/client.ts <W1|W2> <socketPath> [k=v...]`.
 *
 * Unlike the pkt-line clients it keeps ONE persistent connection per socket
 * path and multiplexes every call on it (W1's 8 concurrent callers included):
 * that is how an RPC user would use it, so W1/W2 here exclude connection
 * set-up, a different workload from the one W1 defines. The same workload as
 * the pkt-line clients is ./client-per-connection.ts. The client is created
 * by the first (warm-up) request.
 */
import { Effect, Exit, Scope } from "effect"
import { type IpcClient, runClientDriver } from "../driver.ts"
import { type BenchClient, call, connect, noStreamedResponses } from "./connect.ts"

const scope = Effect.runSync(Scope.make())
const clients = new Map<string, Promise<BenchClient>>()
const clientFor = (socketPath: string): Promise<BenchClient> => {
  let client = clients.get(socketPath)
  if (!client) {
    client = Effect.runPromise(connect(socketPath).pipe(Scope.provide(scope)))
    clients.set(socketPath, client)
  }
  return client
}

/** The effect-rpc {@link IpcClient}: W1 and W2 requests only. */
export const effectRpcClient: IpcClient = {
  request: async (socketPath, request) => Effect.runPromise(call(await clientFor(socketPath), request)),
  requestStream: noStreamedResponses,
  close: () => Effect.runPromise(Scope.close(scope, Exit.void))
}

if (import.meta.main) await runClientDriver(effectRpcClient)
