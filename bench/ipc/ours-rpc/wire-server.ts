/**
 * The benchmark's procedures answered on this library's RPC wire by the
 * hand-written `node:net` server, with no RPC machinery: `Ping` →
 * `"pong"`, `SendBytes {"ballast":…}` → the answer as a JSON string, each
 * the success line `SimpleIpcRpc` documents (the `@span` and `@headers`
 * lines before the call are read past). A server that costs next to
 * nothing, so that a client driven against it is measured alone.
 *
 * Run: `node bench/ipc/ours-rpc/wire-server.ts <socketPath>`.
 */
import { type AppHandler, sendbytesAnswer } from "../app.ts"
import { serve } from "../raw-node/server.ts"
import { serverMain } from "../serverMain.ts"

const SENDBYTES = "SendBytes "
const PONG = Buffer.from(JSON.stringify("pong"))

/** The procedures of `BenchRpcs` (../effect-rpc/group.ts), answered by hand. */
const wireApp: AppHandler = (request, reply) => {
  const whole = Buffer.from(request.buffer, request.byteOffset, request.length).toString("latin1")
  // The call is the last line: `@span` and `@headers` lines may come first.
  const text = whole.slice(whole.lastIndexOf("\n") + 1)
  if (text === "Ping") return reply(PONG)
  if (text.startsWith(SENDBYTES)) {
    const { ballast } = JSON.parse(text.slice(SENDBYTES.length)) as { readonly ballast: string }
    return reply(Buffer.from(JSON.stringify(sendbytesAnswer(Buffer.from(ballast, "latin1")))))
  }
  return reply(Buffer.from(`die ${JSON.stringify(`no procedure for ${text.slice(0, 40)}`)}`))
}

if (import.meta.main) await serverMain(serve, process.argv.slice(2), wireApp)
