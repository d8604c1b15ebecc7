/**
 * This library's server, from the compiled package as users run it, serving
 * the benchmark application as an Effect handler:
 * `node bench/ipc/ours/server.ts <socketPath>`.
 */
import * as Effect from "effect/Effect"
import * as Server from "../../../dist/server/Server.js"
import type { TransportError } from "../../../dist/transport/Connection.js"
import { parseCommand, sendbytesAnswer, STREAM_CHUNK_SIZE } from "../app.ts"

const PONG = new TextEncoder().encode("pong")
const CHUNK = new Uint8Array(STREAM_CHUNK_SIZE).fill(0x78)

/** Sends `left` bytes of the stream response, one 64 KiB reply at a time. */
const streamOut = (reply: Server.Reply, left: number): Effect.Effect<void, TransportError> =>
  left <= 0
    ? Effect.void
    : Effect.flatMap(reply(left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left)), () => streamOut(reply, left - CHUNK.length))

const handler: Server.Handler<TransportError> = (request, reply) => {
  const command = parseCommand(request)
  switch (command._tag) {
    case "Ping":
      return reply(PONG)
    case "Quit":
      return Effect.succeed(Server.Quit)
    case "SendBytes":
      return reply(sendbytesAnswer(command.ballast))
    case "Stream":
      return streamOut(reply, command.bytes)
    case "Unhandled":
      return reply("unhandled command")
  }
}

const path = process.argv[2]!
process.on("SIGTERM", () => process.exit(0))
Effect.runPromise(Server.run(path, handler, { threads: 8 })).then(() => process.exit(0), (error) => {
  console.error(String(error))
  process.exit(1)
})
