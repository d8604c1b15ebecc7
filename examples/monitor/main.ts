/**
 * A file-change monitor in the spirit of Git's fsmonitor daemon.
 *
 *     main.ts serve <root> <socket>
 *         Watch <root> and answer at <socket> until stopped.
 *     main.ts changes <socket> <token> [--start=<root>]
 *         Print a new token, then the paths changed since <token>, one per
 *         line; a lone "/" means "everything may have changed: rescan"
 *         (Git's convention). Any unknown token, "0" say, gets a first one.
 *         With --start, a daemon watching <root> is started if none runs.
 *     main.ts stop <socket>
 *         Stop the daemon.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { fileURLToPath } from "node:url"
import { AutoStart, Client } from "effect-simple-ipc"
import * as Daemon from "./Daemon.ts"
import * as MonitorClient from "./MonitorClient.ts"
import type { Changes } from "./Protocol.ts"

const usage = `usage: main.ts serve <root> <socket>
       main.ts changes <socket> <token> [--start=<root>]
       main.ts stop <socket>
`

/** What `changes` prints: the token, then the paths (or "/" for a full rescan). */
export const format = (changes: Changes): string =>
  [changes.token, ...(changes.fullRescan ? ["/"] : changes.paths)].map((line) => `${line}\n`).join("")

const print = (text: string) => Effect.sync(() => process.stdout.write(text))

const changes = (socket: string, token: string, start: string | undefined) => {
  const transport = start === undefined ? Client.make(socket) : AutoStart.make(socket, {
    command: process.execPath,
    args: [fileURLToPath(import.meta.url), "serve", start, socket]
  })
  return Effect.flatMap(MonitorClient.make(transport).changes({ since: token }), (answer) => print(format(answer)))
}

const stop = (socket: string) => MonitorClient.make(Client.make(socket)).stop()

const main = (args: ReadonlyArray<string>): Effect.Effect<unknown, { readonly message: string }> => {
  const [command, ...rest] = args
  const start = rest.find((arg) => arg.startsWith("--start="))?.slice("--start=".length)
  const positional = rest.filter((arg) => !arg.startsWith("--"))
  if (command === "serve" && positional.length === 2) return Daemon.run(positional[0]!, positional[1]!)
  if (command === "changes" && positional.length === 2) return changes(positional[0]!, positional[1]!, start)
  if (command === "stop" && positional.length === 1) return stop(positional[0]!)
  return Effect.andThen(Effect.sync(() => process.stderr.write(usage)), Effect.sync(() => process.exit(129)))
}

const program = main(process.argv.slice(2)).pipe(
  Effect.catch((error) =>
    Effect.sync(() => {
      process.stderr.write(`error: ${error.message}\n`)
      process.exitCode = 1
    })
  )
)

NodeRuntime.runMain(program)
