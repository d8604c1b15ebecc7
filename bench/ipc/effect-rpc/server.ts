/**
 * Comparison server: the same procedures as an `effect/rpc` server over a
 * Unix socket, written the way the Effect documentation suggests (socket
 * protocol, ndjson serialization, default server options).
 *
 * Run: `node bench/ipc/effect-rpc/server.ts <socketPath>`.
 */
import { NodeRuntime, NodeSocketServer } from "@effect/platform-node"
import { Layer } from "effect"
import { RpcSerialization, RpcServer } from "effect/rpc"
import { BenchHandlers, BenchRpcs, rpcOptions } from "./group.ts"

const socketPath = process.argv[2]
if (socketPath === undefined) {
  console.error("usage: node bench/ipc/effect-rpc/server.ts <socketPath>")
  process.exit(2)
}

const Main = RpcServer.layer(BenchRpcs, rpcOptions).pipe(
  Layer.provide(BenchHandlers),
  Layer.provide(RpcServer.layerProtocolSocketServer),
  Layer.provide(NodeSocketServer.layer({ path: socketPath, backlog: 50 })),
  Layer.provide(RpcSerialization.layerNdjson)
)

// runMain interrupts the program on SIGINT/SIGTERM, which closes the server.
NodeRuntime.runMain(Layer.launch(Main))
