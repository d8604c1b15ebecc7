/**
 * A typed service with effect/rpc over Simple IPC: RPCs declared once with
 * `Rpc.make` and `effect/Schema`, served by `RpcServer.layer` on a Simple
 * IPC daemon socket, called with `RpcClient.make` from another process.
 *
 * The calculator has a unary RPC with a declared error (`divide`), a
 * streamed RPC (`count`, one item per line as it is produced) and `stop`.
 * Payloads, answers and declared failures are checked by their schemas on
 * both sides; a declared failure comes back as its own class, so callers
 * handle it with `Effect.catchTag` like any local error. On the wire
 * everything stays plain text, so any Simple IPC client can call the
 * service too (`simple-ipc send --name=<path> --token='divide {"a":6,"b":3}'`).
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
import { Rpc, RpcClient, type RpcClientError, RpcGroup, RpcServer } from "effect/rpc"
import { Client, Server, SimpleIpcRpc } from "effect-simple-ipc"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"

// ---------------------------------------------------------------------------
// The group, shared by server and client
// ---------------------------------------------------------------------------

/** The divisor was zero: a failure the RPC declares, so it reaches the client typed. */
class DivideByZero extends Schema.TaggedError<DivideByZero>()("DivideByZero", { dividend: Schema.Finite }) {
  override get message() {
    return `cannot divide ${this.dividend} by zero`
  }
}

// The tags are what goes on the wire: `divide {"a":6,"b":3}`.
class Calculator extends RpcGroup.make(
  Rpc.make("divide", { payload: { a: Schema.Finite, b: Schema.Finite }, success: Schema.Finite, error: DivideByZero }),
  Rpc.make("count", { payload: { to: Schema.Int }, success: Schema.Int, stream: true }),
  Rpc.make("stop")
) {}

// ---------------------------------------------------------------------------
// Server: one handler per RPC, served on a Simple IPC socket
// ---------------------------------------------------------------------------

const Handlers = Calculator.toLayer({
  divide: ({ a, b }) => b === 0 ? Effect.fail(new DivideByZero({ dividend: a })) : Effect.succeed(a / b),
  count: ({ to }) => Stream.range(1, to),
  // Handlers may use the server they run in.
  stop: () => Server.IpcServer.use((server) => server.stop)
})

const CalculatorLive = (path: string) =>
  RpcServer.layer(Calculator).pipe(
    Layer.provide(Handlers),
    Layer.provide(SimpleIpcRpc.layerProtocolServer(path))
  )

// ---------------------------------------------------------------------------
// Client: one typed method per RPC, each call a connection of its own
// ---------------------------------------------------------------------------

const withCalculator = <A, E>(
  path: string,
  f: (calculator: RpcClient.FromGroup<typeof Calculator, RpcClientError.RpcClientError>) => Effect.Effect<A, E>
) =>
  Effect.flatMap(RpcClient.make(Calculator), f).pipe(
    Effect.scoped,
    Effect.provide(SimpleIpcRpc.layerProtocolClient(path))
  )

const divide = (path: string, a: number, b: number) =>
  withCalculator(path, (calculator) => calculator.divide({ a, b })).pipe(
    Effect.map((quotient) => `${a} / ${b} = ${quotient}`),
    Effect.catchTag("DivideByZero", (error) => Effect.succeed(`${a} / ${b}: ${error.message}`)),
    Effect.flatMap(Console.log)
  )

const count = (path: string, to: number) =>
  withCalculator(path, (calculator) => Stream.runCollect(calculator.count({ to }))).pipe(
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
  // What travels: `<tag> <JSON>`, answered with JSON text (a streamed
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
  // The daemon: the layer, launched. It runs until a client calls `stop`
  // (the layer then ends, and the process with it), or until SIGINT or
  // SIGTERM, which stop it gracefully.
  if (mode === "serve") return Layer.launch(CalculatorLive(path))
  if (mode === "call" && a !== undefined && b !== undefined) {
    return Effect.andThen(divide(path, Number(a), Number(b)), count(path, 3))
  }
  if (mode === "stop") return withCalculator(path, (calculator) => calculator.stop())
  return usage
}

NodeRuntime.runMain(main(process.argv.slice(2)))
