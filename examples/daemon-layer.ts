/**
 * A daemon as a `Layer`, and a client that streams a large response.
 *
 * The daemon answers `numbers <n>` with the n lines `1\n` … `n\n`, produced
 * and sent a batch at a time (never the whole response in memory), and
 * `quit` by shutting down. The client streams that response and reports its
 * line count, byte count and SHA-256, folding over the chunks as they
 * arrive: memory stays flat however large the answer is, and a slow reader
 * slows the daemon down instead of piling bytes up in it.
 *
 * Run it with:
 *
 *     npm run example:daemon-layer                     # daemon and client in one process
 *     node examples/daemon-layer.ts serve <path>       # the daemon, until Ctrl-C, SIGTERM or `quit`
 *     node examples/daemon-layer.ts fetch <path> [n]   # the client (n defaults to 1000000)
 *
 * (`node` being a Node that runs TypeScript, 22.18 or later.)
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect, Exit, Layer, Runtime, Stream } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { Client, Server } from "effect-simple-ipc"

const decoder = new TextDecoder()

/** Lines per reply call: each call goes to the wire at once, so this is the unit of memory. */
const LINES_PER_REPLY = 4096

// The response to `numbers <n>` as a stream of text batches. Stream.range
// emits the numbers in chunks of LINES_PER_REPLY; Stream.chunks exposes
// each chunk as one array, which becomes one reply.
const numbers = (n: number): Stream.Stream<string> =>
  Stream.range(1, n, LINES_PER_REPLY).pipe(
    Stream.chunks,
    Stream.map((batch) => `${batch.join("\n")}\n`)
  )

const handler = (request: Uint8Array, reply: Server.Reply) => {
  const command = decoder.decode(request)
  // Returning Quit makes the server stop once this (empty) response is sent.
  if (command === "quit") return Effect.succeed(Server.Quit)
  const match = /^numbers (\d+)$/.exec(command)
  if (match === null) return reply(`unknown command: ${command}\n`)
  return Stream.runForEach(numbers(Number(match[1])), reply)
}

// The daemon as a Layer: building it starts the server, and releasing it
// stops the server gracefully and removes the socket.
const Daemon = (path: string) => Server.layer(path, handler, { threads: 4 })

// Serves until the server stops. `Layer.launch(Daemon(path))` would run
// the daemon too, and end when a `quit` stops the server (as an
// interrupted program); waiting on the server's `join` instead lets the
// program say so and exit 0. SIGINT and SIGTERM interrupt this fiber
// (NodeRuntime.runMain), which releases the layer.
const serve = (path: string) =>
  Effect.gen(function*() {
    const server = yield* Server.IpcServer
    yield* Console.log(`serving at ${server.path}`)
    yield* server.join
  }).pipe(
    Effect.provide(Daemon(path)),
    // Outside `provide`, so this runs after the layer is released.
    Effect.ensuring(Console.log("stopped"))
  )

interface Summary {
  readonly lines: number
  readonly bytes: number
  readonly sha256: string
}

// The client reads its server's path from the IpcClient service, so the
// same code works against any daemon the layer points it at.
const fetch = (n: number) =>
  Effect.gen(function*() {
    const client = yield* Client.IpcClient
    const summary = yield* client.requestStream(`numbers ${n}`).pipe(
      // The accumulator is created per run (a thunk), so mutating it is safe.
      Stream.runFold(
        () => ({ lines: 0, bytes: 0, hash: createHash("sha256") }),
        (acc, chunk) => {
          for (const byte of chunk) if (byte === 0x0a) acc.lines++
          acc.bytes += chunk.length
          acc.hash.update(chunk)
          return acc
        }
      ),
      Effect.map(({ bytes, hash, lines }): Summary => ({ lines, bytes, sha256: hash.digest("hex") }))
    )
    yield* Console.log(`lines=${summary.lines} bytes=${summary.bytes} sha256=${summary.sha256}`)
    return summary
  })

// With no arguments: a private socket directory, the daemon and a client
// in one process. The daemon stops when the program's scope closes.
const both = (n: number) =>
  Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => fs.mkdtempSync(nodePath.join(os.tmpdir(), "simple-ipc-daemon-"))),
      (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
    )
    const path = nodePath.join(dir, "numbers.sock")
    return yield* fetch(n).pipe(Effect.provide(Layer.merge(Daemon(path), Client.layer(path))))
  }).pipe(Effect.scoped)

const usage = Effect.andThen(
  Console.error("usage: daemon-layer.ts [serve <path> | fetch <path> [n]]"),
  Effect.sync(() => void (process.exitCode = 2))
)

const main = (args: ReadonlyArray<string>) => {
  const [mode, path, count] = args
  const n = count === undefined ? 1_000_000 : Number(count)
  if (!Number.isSafeInteger(n) || n < 0) return usage
  if (mode === undefined) return both(n)
  if (path === undefined) return usage
  if (mode === "serve") return serve(path)
  // waitIfBusy: a daemon under load may not accept at once; retry briefly.
  if (mode === "fetch") return Effect.provide(fetch(n), Client.layer(path, { waitIfBusy: true }))
  return usage
}

// A signal is how a daemon is asked to stop, so an interruption is a clean
// exit (0) rather than the default 130; anything else exits as usual.
const teardown: Runtime.Teardown = (exit, onExit) =>
  Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? onExit(0) : Runtime.defaultTeardown(exit, onExit)

NodeRuntime.runMain(main(process.argv.slice(2)), { teardown })
