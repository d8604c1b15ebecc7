/**
 * Comparison client driver for `effect/rpc`, connection-per-request variant:
 * `node bench/ipc/effect-rpc/client-per-connection.ts <W1|W2> <socketPath> [k=v...]`.
 *
 * The same workload as the pkt-line clients: every request builds a fresh
 * `RpcClient` on a fresh connection in its own scope, makes its one call and
 * closes the scope, so connection set-up and teardown are timed as in Git's
 * `multiple` workload. It talks to the same server as ./client.ts.
 */
import { Effect } from "effect"
import { type IpcClient, runClientDriver } from "../driver.ts"
import { call, connect, noStreamedResponses } from "./connect.ts"

/**
 * The effect-rpc-conn {@link IpcClient}: W1 and W2 requests only. The promise
 * resolves once the answer is in and the scope is closed: the client's read
 * loop has stopped and its socket has been ended. NodeSocket ends it
 * gracefully (`destroySoon`), so Node releases the descriptor once the FIN is
 * flushed, a poll turn later; that bit of teardown still runs in this
 * process, inside the next request's time.
 */
export const effectRpcConnClient: IpcClient = {
  request: (socketPath, request) =>
    Effect.runPromise(Effect.scoped(Effect.flatMap(connect(socketPath), (client) => call(client, request)))),
  requestStream: noStreamedResponses
}

if (import.meta.main) await runClientDriver(effectRpcConnClient)
