/**
 * Git's Simple IPC mechanism, Effect-native and wire-compatible with Git's
 * C implementation.
 *
 * @since 0.1.0
 */

/**
 * pkt-line framing: pure functions and Stream transformations.
 *
 * @since 0.1.0
 */
export * as PktLine from "./framing/PktLine.ts"

/**
 * Socket addresses: long paths and Windows named pipes.
 *
 * @since 0.1.0
 */
export * as SocketPath from "./transport/SocketPath.ts"

/**
 * The `<path>.lock` file that serialises server startup.
 *
 * @since 0.1.0
 */
export * as Lockfile from "./transport/Lockfile.ts"

/**
 * One socket connection as a scoped resource.
 *
 * @since 0.1.0
 */
export * as Connection from "./transport/Connection.ts"

/**
 * The listening socket of a server as a scoped resource.
 *
 * @since 0.1.0
 */
export * as Listener from "./transport/Listener.ts"

/**
 * The client: probing, connecting with Git's retry rules, requests.
 *
 * @since 0.1.0
 */
export * as Client from "./client/Client.ts"

/**
 * The server: worker pool, lifecycle, layers.
 *
 * @since 0.1.0
 */
export * as Server from "./server/Server.ts"

/**
 * effect/rpc over Simple IPC: the server and client protocols that serve
 * and call any `RpcGroup` through a daemon socket.
 *
 * @since 0.2.0
 */
export * as SimpleIpcRpc from "./rpc/SimpleIpcRpc.ts"

/**
 * Starting a daemon on demand when a client finds none.
 *
 * @since 0.1.0
 */
export * as AutoStart from "./client/AutoStart.ts"

/**
 * Server metrics: what is counted and why connections are dropped.
 *
 * @since 0.1.0
 */
export * as ServerMetrics from "./server/ServerMetrics.ts"

/**
 * Asking a server about itself: its identity and its status.
 *
 * @since 0.2.0
 */
export * as Control from "./client/Control.ts"

/**
 * Git's builtin filesystem monitor: a client for its daemon, and the protocol's server side.
 *
 * @since 0.2.0
 */
export * as Fsmonitor from "./fsmonitor/Fsmonitor.ts"
