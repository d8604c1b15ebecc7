/**
 * The RPC client starting its daemon on demand: clients that find no
 * server start one, and however many race, one daemon serves them all.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import { RpcClient } from "effect/rpc"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Client from "../../src/client/Client.ts"
import * as SimpleIpcRpc from "../../src/rpc/SimpleIpcRpc.ts"
import { daemonDir, daemonProcesses, options, recorded } from "../support/autoStart.ts"
import { DaemonRpcs } from "../support/autoStartDaemon.ts"
import { waitUntil } from "../support/raw.ts"

/** One caller: its own client, its own protocol layer (which makes sure the daemon runs), one call. */
const whoAmI = (path: string, dir: string) =>
  Effect.gen(function*() {
    const client = yield* RpcClient.make(DaemonRpcs)
    return yield* client.WhoAmI()
  }).pipe(Effect.scoped, Effect.provide(SimpleIpcRpc.layerProtocolAutoStart(path, options(path, dir))))

describe("the RPC client with auto-start", () => {
  it.live("ten callers racing to start one daemon: one daemon runs, all ten get its answer", () =>
    Effect.gen(function*() {
      const dir = yield* daemonDir
      const path = nodePath.join(dir, "daemon.sock")
      assert.strictEqual(yield* Client.activeState(path), "NotListening")

      const answers = yield* Effect.all(Array.from({ length: 10 }, () => whoAmI(path, dir)), { concurrency: "unbounded" })

      const listening = recorded(dir, "listening")
      assert.strictEqual(listening.length, 1, `daemons that listened: ${listening}`)
      const [winner] = listening
      assert.deepStrictEqual(answers, Array.from({ length: 10 }, () => winner))
      // Every daemon started for the race has exited but the winner.
      yield* waitUntil(Effect.sync(() => daemonProcesses(dir).length === 1), Duration.seconds(30))
      assert.deepStrictEqual(daemonProcesses(dir), [winner])

      // The daemon stops when asked; its socket goes with it.
      yield* Effect.gen(function*() {
        const client = yield* RpcClient.make(DaemonRpcs)
        yield* client.Stop()
      }).pipe(Effect.scoped, Effect.provide(SimpleIpcRpc.layerProtocolClient(path)))
      yield* waitUntil(Effect.sync(() => daemonProcesses(dir).length === 0), Duration.seconds(10))
      assert.isFalse(fs.existsSync(path))
    }), 90_000)

  it.live("a daemon gone after the layer was built is started again by the next call", () =>
    Effect.gen(function*() {
      const dir = yield* daemonDir
      const path = nodePath.join(dir, "daemon.sock")
      yield* Effect.gen(function*() {
        const client = yield* RpcClient.make(DaemonRpcs)
        const first = yield* client.WhoAmI()
        yield* client.Stop()
        yield* waitUntil(Effect.sync(() => !daemonProcesses(dir).includes(first)), Duration.seconds(10))
        const second = yield* client.WhoAmI()
        assert.notStrictEqual(second, first)
        assert.deepStrictEqual(recorded(dir, "listening").sort(), [first, second].sort())
      }).pipe(Effect.scoped, Effect.provide(SimpleIpcRpc.layerProtocolAutoStart(path, options(path, dir))))
    }), 90_000)
})
