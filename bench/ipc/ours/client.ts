/**
 * This library's client, from the compiled package as users run it, as a
 * benchmark driver:
 * `node bench/ipc/ours/client.ts <workload> <socketPath> [k=v...]`.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Client from "../../../dist/client/Client.js"
import { type IpcClient, runClientDriver } from "../driver.ts"

export const options = { waitIfBusy: true } as const

export const oursClient: IpcClient = {
  request: (path, request) => Effect.runPromise(Client.request(path, request, options)),
  requestStream: (path, request, onChunk) =>
    Effect.runPromise(Stream.runForEach(Client.requestStream(path, request, options), (chunk) => Effect.sync(() => onChunk(chunk))))
}

if (import.meta.main) await runClientDriver(oursClient)
