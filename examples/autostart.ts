/**
 * A daemon that clients start on demand, as Git starts its fsmonitor
 * daemon: both sides of `AutoStart`.
 *
 * The client side calls the daemon's RPCs through
 * `SimpleIpcRpc.layerProtocolAutoStart`: when nothing listens at the
 * socket, it starts this same script in `serve` mode (detached, with no
 * standard input or output) and makes its call once the daemon listens.
 * The daemon side is an effect/rpc server on a Simple IPC socket, launched: it serves until a client sends `stop`, and then its process
 * ends. When many clients race to start it, several daemons may be
 * spawned, but the startup lock lets exactly one listen; the others fail
 * to start (the address is in use) and exit, and every client is answered
 * by the one that listens.
 *
 * Run it with:
 *
 *     node examples/autostart.ts hello <path>   # starts the daemon if needed; prints its pid
 *     node examples/autostart.ts stop <path>    # stops the daemon (it exits)
 *
 * (`node` being a Node that runs TypeScript, 22.18 or later.)
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Layer, Schema } from "effect"
import { Rpc, RpcClient, RpcGroup, RpcServer } from "effect/rpc"
import { Server, SimpleIpcRpc } from "effect-simple-ipc"
import { fileURLToPath } from "node:url"

class Greeter extends RpcGroup.make(
  Rpc.make("hello", { success: Schema.Struct({ pid: Schema.Int }) }),
  Rpc.make("stop")
) {}

// ---------------------------------------------------------------------------
// The daemon side: a layer, launched
// ---------------------------------------------------------------------------

const GreeterLive = (path: string) =>
  RpcServer.layer(Greeter).pipe(
    Layer.provide(Greeter.toLayer({
      hello: () => Effect.succeed({ pid: process.pid }),
      stop: () => Server.IpcServer.use((server) => server.stop)
    })),
    Layer.provide(SimpleIpcRpc.layerProtocolServer(path))
  )

// Serves until `stop` (the layer then ends, and this process with it), or
// until SIGINT or SIGTERM. A daemon that loses the race to listen fails
// here with "address in use" and exits: the winner serves everyone.
const serve = (path: string) => Layer.launch(GreeterLive(path))

// ---------------------------------------------------------------------------
// The client side: a protocol that starts the daemon when it is not there
// ---------------------------------------------------------------------------

const AutoStarting = (path: string) =>
  SimpleIpcRpc.layerProtocolAutoStart(path, {
    // This same script, in `serve` mode, with the Node running this one.
    command: process.execPath,
    args: [...process.execArgv, fileURLToPath(import.meta.url), "serve", path]
  })

const hello = (path: string) =>
  Effect.flatMap(RpcClient.make(Greeter), (greeter) => greeter.hello()).pipe(
    Effect.flatMap(({ pid }) => Console.log(`answered by daemon ${pid}`)),
    Effect.scoped,
    Effect.provide(AutoStarting(path))
  )

// Stopping needs no auto-start: a daemon that is not running is stopped already.
const stop = (path: string) =>
  Effect.flatMap(RpcClient.make(Greeter), (greeter) => greeter.stop()).pipe(
    Effect.scoped,
    Effect.provide(SimpleIpcRpc.layerProtocolClient(path))
  )

const usage = Effect.andThen(
  Console.error("usage: autostart.ts [hello <path> | stop <path> | serve <path>]"),
  Effect.sync(() => void (process.exitCode = 2))
)

const main = (args: ReadonlyArray<string>): Effect.Effect<void, unknown> => {
  const [mode, path] = args
  if (path === undefined) return usage
  if (mode === "serve") return serve(path)
  if (mode === "hello") return hello(path)
  if (mode === "stop") return stop(path)
  return usage
}

NodeRuntime.runMain(main(process.argv.slice(2)))
