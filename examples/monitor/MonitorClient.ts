/**
 * Calling the monitor: one method per RPC, each call a round trip of its
 * own through `transport` (the plain client, or one that starts the daemon
 * on demand).
 */
import { Effect } from "effect"
import { RpcClient } from "effect/rpc"
import { type Client, SimpleIpcRpc } from "effect-simple-ipc"
import { MonitorRpcs } from "./Protocol.ts"

export const make = (transport: Client.IpcClient["Service"]) => {
  // A client for one call: nothing is kept between calls, as a command line
  // that makes one call and exits needs.
  const client = Effect.flatMap(
    SimpleIpcRpc.makeProtocolClient(transport),
    (protocol) => RpcClient.make(MonitorRpcs).pipe(Effect.provideService(RpcClient.Protocol, protocol))
  )
  return {
    changes: (payload: { readonly since: string }) => Effect.scoped(Effect.flatMap(client, (monitor) => monitor.changes(payload))),
    stop: () => Effect.scoped(Effect.flatMap(client, (monitor) => monitor.stop()))
  }
}
