/**
 * The monitor daemon: the monitor service, served over Simple IPC with the
 * typed protocol. The whole daemon is this layer.
 */
import { Effect, Layer } from "effect"
import { Server, TypedServer } from "effect-simple-ipc"
import type * as ChangeLog from "./ChangeLog.ts"
import { Monitor } from "./Monitor.ts"
import { MonitorProtocol } from "./Protocol.ts"

export type Options = ChangeLog.Options & Server.Options

/** Watches `root` and answers at `socket` for as long as the layer lives. */
export const layer = (root: string, socket: string, options?: Options) =>
  TypedServer.layer(MonitorProtocol, socket, {
    changes: ({ since }) => Monitor.use((monitor) => monitor.changesSince(since)),
    stop: () => Server.IpcServer.use((server) => server.stop)
  }, options).pipe(Layer.provide(Monitor.layer(root, options)))

/** Runs the daemon until it is stopped (the `stop` command, or interruption). */
export const run = (root: string, socket: string, options?: Options) =>
  Effect.provide(Server.IpcServer.use((server) => server.join), layer(root, socket, options))
