import { type IpcClient, runClientDriver } from "../driver.ts"
import { rawNodeClient } from "../raw-node/client.ts"
for (const m of (process.env.MODS ?? "").split(",").filter(Boolean)) await import(m)
export const expClient: IpcClient = { request: rawNodeClient.request, requestStream: rawNodeClient.requestStream }
if (import.meta.main) await runClientDriver(expClient)
