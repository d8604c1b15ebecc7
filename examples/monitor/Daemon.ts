/**
 * The monitor daemon: the monitor service, its RPCs served over Simple IPC
 * by effect/rpc. The whole daemon is this layer.
 */
import { Effect, Layer } from "effect"
import { RpcServer } from "effect/rpc"
import { Server, SimpleIpcRpc } from "effect-simple-ipc"
import type * as ChangeLog from "./ChangeLog.ts"
import { Monitor } from "./Monitor.ts"
import { MonitorRpcs } from "./Protocol.ts"

export type Options = ChangeLog.Options & Server.Options

const Handlers = MonitorRpcs.toLayer({
  changes: ({ since }) => Monitor.use((monitor) => monitor.changesSince(since)),
  stop: () => Server.IpcServer.use((server) => server.stop)
})

/** Watches `root` and answers at `socket` for as long as the layer lives. */
export const layer = (root: string, socket: string, options?: Options) =>
  RpcServer.layer(MonitorRpcs).pipe(
    Layer.provide(Handlers),
    Layer.provide(Monitor.layer(root, options)),
    Layer.provideMerge(SimpleIpcRpc.layerProtocolServer(socket, options))
  )

/** Runs the daemon until it is stopped (the `stop` RPC, or interruption). */
export const run = (root: string, socket: string, options?: Options) =>
  Effect.provide(Server.IpcServer.use((server) => server.join), layer(root, socket, options))
