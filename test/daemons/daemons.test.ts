/**
 * Every documented way to run a daemon ends its process when the server
 * stops: by a client's `quit` (or an RPC `Stop`), a signal, or a stolen
 * socket. Each pattern runs in a process of its own (see patterns.ts); a
 * process that outlived its server would hold on with nothing to serve.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { RpcClient } from "effect/rpc"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"
import * as AutoStart from "../../src/client/AutoStart.ts"
import * as Client from "../../src/client/Client.ts"
import * as SimpleIpcRpc from "../../src/rpc/SimpleIpcRpc.ts"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { exitOf, nodeBinary, spawnScoped } from "../support/child.ts"
import { listening } from "../support/probe.ts"
import { killAllOnClose, processesWith } from "../support/processes.ts"
import { waitUntil } from "../support/raw.ts"
import { socketPath, tempDir } from "../support/tempdir.ts"
import { Daemon, type Pattern } from "./patterns.ts"

const script = fileURLToPath(new URL("./patterns.ts", import.meta.url))

/** How long a daemon may take to exit once its server has stopped. */
const EXIT_WITHIN = Duration.seconds(2)

/** Fails, naming the pattern, unless the child exits within {@link EXIT_WITHIN}. */
const exitsPromptly = (child: ChildProcess, what: string) =>
  Effect.timeoutOrElse(exitOf(child), {
    duration: EXIT_WITHIN,
    orElse: () => Effect.die(new Error(`${what}: the process was still running ${Duration.format(EXIT_WITHIN)} after its server stopped`))
  })

/** Starts a pattern for the life of the scope and waits until it listens. */
const start = (pattern: Pattern, path: string) =>
  Effect.tap(spawnScoped([script, pattern, path], { stdio: "pipe" }), () => waitUntil(listening(path), Duration.seconds(30)))

const isRpc = (pattern: Pattern) => pattern.startsWith("rpc")

/** Stops the server as its clients do: `quit`, or the RPC `Stop`. */
const stopServer = (pattern: Pattern, path: string) =>
  isRpc(pattern)
    ? Effect.flatMap(RpcClient.make(Daemon), (daemon) => daemon.Stop()).pipe(
      Effect.scoped,
      Effect.provide(SimpleIpcRpc.layerProtocolClient(path))
    )
    : Effect.asVoid(Client.request(path, "quit"))

/**
 * The exit code each pattern ends with after its server stopped by itself:
 * a launched layer is interrupted, which `NodeRuntime.runMain` reports as
 * 130; without runMain nothing sets a code.
 */
const codeAfterStop: Record<Pattern, number> = {
  "run": 0,
  "run-main": 0,
  "layer-main": 130,
  "layer-fork": 0,
  "rpc-layer-main": 130,
  "rpc-layer-fork": 0
}

describe("a daemon's process ends when its server stops", () => {
  for (const [pattern, code] of Object.entries(codeAfterStop) as Array<[Pattern, number]>) {
    it.live(`${pattern}: ${isRpc(pattern) ? "Stop" : "quit"} ends the process, and no socket is left`, () =>
      Effect.gen(function*() {
        const path = yield* socketPath()
        const daemon = yield* start(pattern, path)
        yield* stopServer(pattern, path)
        const exit = yield* exitsPromptly(daemon, pattern)
        assert.deepStrictEqual(exit, { code, signal: null })
        assert.deepStrictEqual(fs.readdirSync(nodePath.dirname(path)), [])
      }))
  }

  for (const pattern of ["run-main", "layer-main", "rpc-layer-main"] as const) {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      it.live(`${pattern}: ${signal} stops the server gracefully and ends the process`, () =>
        Effect.gen(function*() {
          const path = yield* socketPath()
          const daemon = yield* start(pattern, path)
          daemon.kill(signal)
          const exit = yield* exitsPromptly(daemon, pattern)
          // runMain reports an interrupted program as 130, whichever signal it was.
          assert.deepStrictEqual(exit, { code: 130, signal: null })
          assert.deepStrictEqual(fs.readdirSync(nodePath.dirname(path)), [])
        }))
    }
  }

  for (const pattern of ["layer-main", "rpc-layer-main"] as const) {
    it.live(`${pattern}: a stolen socket stops the server and ends the process; the new owner's socket stays`, () =>
      Effect.gen(function*() {
        const path = yield* socketPath()
        const daemon = yield* start(pattern, path)
        // Another server takes the path: ours can never be reached again.
        fs.rmSync(path)
        yield* Server.make(path, TestApplication.handler)
        // Detection waits for the stolen-socket check (about a second).
        const exit = yield* Effect.timeoutOrElse(exitOf(daemon), {
          duration: Duration.seconds(10),
          orElse: () => Effect.die(new Error(`${pattern}: still running after its socket was stolen`))
        })
        assert.deepStrictEqual(exit, { code: 130, signal: null })
        assert.strictEqual(yield* Client.activeState(path), "Listening")
      }))
  }
})

/** The daemons running for `path`, found by their command line: one exists from the moment it is spawned. */
const daemonsAt = (path: string): Array<number> => processesWith(script, path)

describe("AutoStart with a launched RPC layer as the daemon", () => {
  it.live("ten racing clients start one daemon; after a stop no daemon process is left", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = nodePath.join(dir, "daemon.sock")
      // Detached daemons outlive the test unless stopped: kill any left.
      yield* killAllOnClose(path)
      const transport = AutoStart.make(path, {
        command: nodeBinary,
        args: [script, "rpc-layer-main", path],
        startTimeout: Duration.seconds(30)
      })
      // Each call starts the daemon if none answers (no start when the protocol is made).
      const protocol = yield* SimpleIpcRpc.makeProtocolClient(transport, { group: Daemon })
      const daemon = yield* RpcClient.make(Daemon).pipe(Effect.provideService(RpcClient.Protocol, protocol))
      const pids = yield* Effect.all(Array.from({ length: 10 }, () => daemon.Pid()), { concurrency: "unbounded" })
      assert.strictEqual(new Set(pids).size, 1, `answered by ${[...new Set(pids)].join(", ")}`)
      // The daemons that lost the race exit on their own.
      yield* waitUntil(Effect.sync(() => daemonsAt(path).length === 1), Duration.seconds(30))
      assert.deepStrictEqual(daemonsAt(path), [pids[0]])

      yield* daemon.Stop()
      yield* waitUntil(Effect.sync(() => daemonsAt(path).length === 0), EXIT_WITHIN)
      assert.deepStrictEqual(fs.readdirSync(dir), [])
    }))
})
