/**
 * A server in a process of its own (for the busy-pipe test) that can be
 * told to stop its whole event loop for a while: `block <ms> <marker>`
 * writes the marker file, then blocks; `quit` stops it. While it is
 * blocked, no pipe instance is re-armed: clients beyond those already
 * waiting find the pipe busy.
 *
 * Usage: node blockingServer.ts <path>
 */
import { Server } from "effect-simple-ipc"
import { Effect } from "effect"
import * as fs from "node:fs"

const [path] = process.argv.slice(2)

const blockFor = (ms: number) => {
  const until = Date.now() + ms
  while (Date.now() < until) {
    // The point is to hold the event loop.
  }
}

await Effect.runPromise(Server.run(path!, (request, reply) => {
  const [command, ms, marker] = new TextDecoder().decode(request).split(" ")
  if (command === "quit") return Effect.succeed(Server.Quit)
  if (command === "block") {
    return Effect.andThen(
      Effect.sync(() => {
        // Written just before the loop stops: whoever sees it knows it is stopped (or about to be).
        fs.writeFileSync(marker!, "")
        blockFor(Number(ms))
      }),
      reply("unblocked")
    )
  }
  return reply("pong")
}))
