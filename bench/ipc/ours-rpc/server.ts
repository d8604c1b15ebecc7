/**
 * This library's effect/rpc transport, from the compiled package as users
 * run it: the benchmark's procedures (the same group and handlers as the
 * effect/rpc comparison) served by `RpcServer.layer` on a Simple IPC socket.
 *
 * Run: `node bench/ipc/ours-rpc/server.ts <socketPath>`.
 */
import { Effect, Layer } from "effect"
import { RpcServer } from "effect/rpc"
import * as SimpleIpcRpc from "../../../dist/rpc/SimpleIpcRpc.js"
import { BenchHandlers, BenchRpcs, rpcOptions } from "../effect-rpc/group.ts"

const socketPath = process.argv[2]
if (socketPath === undefined) {
  console.error("usage: node bench/ipc/ours-rpc/server.ts <socketPath>")
  process.exit(2)
}

// The same number of places as this library's plain server in the bench.
const Main = RpcServer.layer(BenchRpcs, rpcOptions).pipe(
  Layer.provide(BenchHandlers),
  Layer.provide(SimpleIpcRpc.layerProtocolServer(socketPath, { threads: 8 }))
)

process.on("SIGTERM", () => process.exit(0))
Effect.runPromise(Layer.launch(Main)).catch((error) => {
  console.error(String(error))
  process.exit(1)
})
