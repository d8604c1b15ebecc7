/**
 * The raw-node client, unchanged, in a process that has loaded this
 * library (and so Effect) without using it: what loading Effect alone costs
 * a client that allocates a buffer per read, measured apart from anything
 * this library does. Driver:
 * `node bench/ipc/raw-node/client-effect-loaded.ts <workload> <socketPath> [k=v...]`.
 */
import "../../../dist/client/Client.js"
import { runClientDriver } from "../driver.ts"
import { rawNodeClient } from "./client.ts"

if (import.meta.main) await runClientDriver(rawNodeClient)
