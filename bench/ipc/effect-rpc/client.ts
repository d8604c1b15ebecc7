/**
 * Comparison client driver for `effect/rpc`:
 * `node bench/ipc/effect-rpc/client.ts <W1|W2> <socketPath> [k=v...]`.
 *
 * Unlike the pkt-line clients it keeps ONE persistent connection per socket
 * path and multiplexes every call on it (W1's 8 concurrent callers included):
 * that is how an RPC user would use it, so W1/W2 here exclude connection
 * set-up. The shared driver's byte-level requests are mapped onto the
 * procedures (`ping` → Ping, `sendbytes <b>` → SendBytes); the client is
 * created by the first (warm-up) request.
 */
import { NodeSocket } from "@effect/platform-node"
import { Effect, Exit, Layer, Scope } from "effect"
import { RpcClient, RpcSerialization } from "effect/rpc"
import { type IpcClient, runClientDriver } from "../driver.ts"
import { BenchRpcs } from "./group.ts"

const SENDBYTES = "sendbytes "

const makeClient = (socketPath: string, scope: Scope.Closeable) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const protocol = yield* Layer.build(
        RpcClient.layerProtocolSocket().pipe(
          Layer.provide(NodeSocket.layerNet({ path: socketPath })),
          Layer.provide(RpcSerialization.layerNdjson)
        )
      )
      return yield* RpcClient.make(BenchRpcs).pipe(Effect.provideContext(protocol))
    }).pipe(Scope.provide(scope))
  )

type Client = Awaited<ReturnType<typeof makeClient>>

const scope = Effect.runSync(Scope.make())
const clients = new Map<string, Promise<Client>>()
const clientFor = (socketPath: string): Promise<Client> => {
  let client = clients.get(socketPath)
  if (!client) {
    client = makeClient(socketPath, scope)
    clients.set(socketPath, client)
  }
  return client
}

/** The effect-rpc {@link IpcClient}: W1 and W2 requests only. */
export const effectRpcClient: IpcClient = {
  request: async (socketPath, request) => {
    const client = await clientFor(socketPath)
    const text = Buffer.from(request).toString("latin1")
    const answer = text === "ping"
      ? await Effect.runPromise(client.Ping())
      : text.startsWith(SENDBYTES)
      ? await Effect.runPromise(client.SendBytes({ ballast: text.slice(SENDBYTES.length) }))
      : undefined
    if (answer === undefined) throw new Error(`effect-rpc: no procedure for ${JSON.stringify(text.slice(0, 40))}`)
    return Buffer.from(answer, "latin1")
  },
  requestStream: () => Promise.reject(new Error("effect-rpc: streamed responses are not part of this comparison")),
  close: () => Effect.runPromise(Scope.close(scope, Exit.void))
}

if (import.meta.main) await runClientDriver(effectRpcClient)
