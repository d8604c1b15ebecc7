/**
 * A typed service: commands defined once with `effect/Schema`, served by a
 * `TypedServer` layer, called through a `TypedClient` with one typed
 * method per command.
 *
 * The calculator has a unary command with a declared error (`divide`), a
 * streamed command (`count`, one item per line as it is produced) and
 * `stop`. Requests, answers and declared failures are checked by their
 * schemas on both sides; a declared failure comes back as its own class,
 * so callers handle it with `Effect.catchTag` like any local error. On the
 * wire everything stays plain text, so any Simple IPC client can talk to
 * the service too.
 *
 * Run it with:
 *
 *     npm run example:typed-protocol                        # server and client in one process
 *     node examples/typed-protocol.ts serve <path>          # the daemon, until `stop`, Ctrl-C or SIGTERM
 *     node examples/typed-protocol.ts call <path> <a> <b>   # divide a by b, then count to 3
 *     node examples/typed-protocol.ts stop <path>
 *
 * (`node` being a Node that runs TypeScript, 22.18 or later.)
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Schema, Stream } from "effect"
import { Client, Protocol, Server, TypedClient, TypedServer } from "effect-simple-ipc"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"

// ---------------------------------------------------------------------------
// The protocol, shared by server and client
// ---------------------------------------------------------------------------

/** The divisor was zero: a failure the protocol declares, so it reaches the client typed. */
class DivideByZero extends Schema.TaggedError<DivideByZero>()("DivideByZero", { dividend: Schema.Finite }) {
  override get message() {
    return `cannot divide ${this.dividend} by zero`
  }
}

const Calculator = Protocol.make(
  Protocol.command("divide", {
    payload: Schema.Struct({ a: Schema.Finite, b: Schema.Finite }),
    success: Schema.Finite,
    error: DivideByZero
  }),
  Protocol.command("count", { payload: Schema.Struct({ to: Schema.Int }), success: Schema.Int, stream: true }),
  Protocol.command("stop")
)

// ---------------------------------------------------------------------------
// Server: one handler per command, as a layer
// ---------------------------------------------------------------------------

const CalculatorLive = (path: string) =>
  TypedServer.layer(Calculator, path, {
    divide: ({ a, b }) => b === 0 ? Effect.fail(new DivideByZero({ dividend: a })) : Effect.succeed(a / b),
    count: ({ to }) => Stream.range(1, to),
    // Handlers may use the server they run in.
    stop: () => Server.IpcServer.use((server) => server.stop)
  })

// ---------------------------------------------------------------------------
// Client: one typed method per command
// ---------------------------------------------------------------------------

const calculator = (path: string) => TypedClient.make(Calculator, Client.make(path))

const divide = (path: string, a: number, b: number) =>
  calculator(path).divide({ a, b }).pipe(
    Effect.map((quotient) => `${a} / ${b} = ${quotient}`),
    Effect.catchTag("DivideByZero", (error) => Effect.succeed(`${a} / ${b}: ${error.message}`)),
    Effect.flatMap(Console.log)
  )

const count = (path: string, to: number) =>
  calculator(path).count({ to }).pipe(
    Stream.runCollect,
    Effect.flatMap((numbers) => Console.log(`count to ${to}: ${numbers.join(" ")}`))
  )

// With no arguments: a private socket directory, the server and a client
// in one process; the server stops when the program's scope closes.
const demo = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(nodePath.join(os.tmpdir(), "simple-ipc-typed-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )
  const path = nodePath.join(dir, "calculator.sock")
  yield* Layer.build(CalculatorLive(path))
  yield* divide(path, 1, 4)
  yield* divide(path, 1, 0)
  yield* count(path, 5)
  // What travels: `<command> <JSON>`, answered with JSON text (a streamed
  // answer is one JSON value per line; a declared failure, `fail <JSON>`).
  for (const request of [`divide {"a":6,"b":3}`, `divide {"a":1,"b":0}`, `count {"to":3}`]) {
    const answer = yield* Client.request(path, request)
    yield* Console.log(`wire: ${request} -> ${JSON.stringify(new TextDecoder().decode(answer))}`)
  }
}).pipe(Effect.scoped)

const usage = Effect.andThen(
  Console.error("usage: typed-protocol.ts [serve <path> | call <path> <a> <b> | stop <path>]"),
  Effect.sync(() => void (process.exitCode = 2))
)

const main = (args: ReadonlyArray<string>) => {
  const [mode, path, a, b] = args
  if (mode === undefined) return demo
  if (path === undefined) return usage
  // The daemon: the layer, launched. It runs until a client sends `stop`
  // (the layer then ends, and the process with it), or until SIGINT or
  // SIGTERM, which stop it gracefully.
  if (mode === "serve") return Layer.launch(CalculatorLive(path))
  if (mode === "call" && a !== undefined && b !== undefined) {
    return Effect.andThen(divide(path, Number(a), Number(b)), count(path, 3))
  }
  if (mode === "stop") return calculator(path).stop()
  return usage
}

NodeRuntime.runMain(main(process.argv.slice(2)))
