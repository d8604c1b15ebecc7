/**
 * This library's client reading streamed responses with
 * `Client.requestForEach` (pieces lent from one reused read buffer) instead
 * of `Client.requestStream`; everything else as ./client.ts:
 * `node bench/ipc/ours/client-foreach.ts <workload> <socketPath> [k=v...]`.
 */
import * as Effect from "effect/Effect"
import * as Client from "../../../dist/client/Client.js"
import { type IpcClient, runClientDriver } from "../driver.ts"
import { oursClient, options } from "./client.ts"

export const oursForEachClient: IpcClient = {
  ...oursClient,
  requestStream: (path, request, onChunk) =>
    Effect.runPromise(Client.requestForEach(path, request, (piece) => Effect.sync(() => onChunk(piece)), options))
}

if (import.meta.main) await runClientDriver(oursForEachClient)
