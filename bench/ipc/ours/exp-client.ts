import * as Effect from "effect/Effect"
import * as Client from "../../../dist/client/Client.js"
import * as Connection from "../../../dist/transport/Connection.js"
import * as PktLine from "../../../dist/framing/PktLine.js"
import { type IpcClient, runClientDriver } from "../driver.ts"
import { rawNodeClient } from "../raw-node/client.ts"
const V = process.env.V
const variants: Record<string, (path: string, request: Uint8Array) => Promise<Uint8Array>> = {
  raw: (path, request) => rawNodeClient.request(path, request),
  promise: (path, request) => Effect.runPromise(Effect.promise(() => rawNodeClient.request(path, request))),
  rt: (path, request) => Effect.runPromise(Connection.roundTrip(path, PktLine.encodeMessageChunks(request))),
  client: (path, request) => Effect.runPromise(Client.request(path, request, { waitIfBusy: true }))
}
const f = variants[V!]!
export const expClient: IpcClient = { request: f, requestStream: rawNodeClient.requestStream }
if (import.meta.main) await runClientDriver(expClient)
