/**
 * Starting a daemon on demand: clients that find no server start one, and
 * however many race, one daemon ends up serving them all. AutoStart's
 * client is the plain client's `IpcClient` service, as a value or a layer.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Metric, Stream } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Client from "../../src/client/Client.ts"
import * as AutoStart from "../../src/client/AutoStart.ts"
import * as Server from "../../src/server/Server.ts"
import * as ServerMetrics from "../../src/server/ServerMetrics.ts"
import { daemonDir, daemonProcesses, options, recorded } from "../support/autoStart.ts"
import { nodeBinary } from "../support/child.ts"
import { waitUntil } from "../support/raw.ts"
import { socketPath } from "../support/tempdir.ts"

/** The daemon's pid, asked with a plain request: its `WhoAmI` RPC answers it as JSON. */
const whoAmI = (client: Client.IpcClient["Service"]) =>
  Effect.map(client.request("WhoAmI"), (answer) => Number(Buffer.from(answer).toString()))

/** How many connections the server at `path` has accepted, and how many of them sent nothing (probes). */
const connections = (path: string) =>
  Effect.all({
    accepted: Effect.map(Metric.value(Metric.withAttributes(ServerMetrics.accepted, { socket: path })), (s) => s.count),
    probes: Effect.map(
      Metric.value(Metric.withAttributes(ServerMetrics.dropped, { socket: path, reason: "probe" })),
      (s) => s.count
    )
  })

describe("auto-start", () => {
  it.live("ten clients racing to start one daemon: one daemon runs, all ten get its answer", () =>
    Effect.gen(function*() {
      const dir = yield* daemonDir
      const path = nodePath.join(dir, "daemon.sock")
      const client = AutoStart.make(path, options(path, dir))
      assert.strictEqual(yield* Client.activeState(path), "NotListening")

      const answers = yield* Effect.all(Array.from({ length: 10 }, () => whoAmI(client)), { concurrency: "unbounded" })

      const listening = recorded(dir, "listening")
      assert.strictEqual(listening.length, 1, `daemons that listened: ${listening}`)
      const [winner] = listening
      assert.deepStrictEqual(answers, Array.from({ length: 10 }, () => winner))
      // Every daemon started for the race has exited but the winner.
      yield* waitUntil(Effect.sync(() => daemonProcesses(dir).length === 1), Duration.seconds(30))
      assert.deepStrictEqual(daemonProcesses(dir), [winner])
      assert.include(recorded(dir, "started"), winner)

      // A client that finds it running starts nothing more.
      assert.strictEqual(yield* whoAmI(client), winner)
      assert.deepStrictEqual(daemonProcesses(dir), [winner])

      yield* client.request("Stop")
      yield* waitUntil(Effect.sync(() => daemonProcesses(dir).length === 0), Duration.seconds(10))
      assert.isFalse(fs.existsSync(path))
    }), 90_000)

  it.live("a streamed request starts the daemon too", () =>
    Effect.gen(function*() {
      const dir = yield* daemonDir
      const path = nodePath.join(dir, "daemon.sock")
      const transport = AutoStart.make(path, options(path, dir))
      const response = yield* Stream.runCollect(transport.requestStream("WhoAmI"))
      const [winner] = recorded(dir, "listening")
      assert.strictEqual(Buffer.concat(response).toString(), String(winner))
    }), 60_000)

  it.live("a stale socket left by a dead daemon is NotListening: a new daemon is started in its place", () =>
    Effect.gen(function*() {
      const dir = yield* daemonDir
      const path = nodePath.join(dir, "daemon.sock")
      const client = AutoStart.make(path, options(path, dir))
      const first = yield* whoAmI(client)
      process.kill(first, "SIGKILL")
      // Its socket file stays behind, with nobody listening on it.
      yield* waitUntil(Effect.map(Client.activeState(path), (state) => state === "NotListening"))
      assert.isTrue(fs.lstatSync(path).isSocket())
      const second = yield* whoAmI(client)
      assert.notStrictEqual(second, first)
    }), 60_000)

  it.live("a daemon that cannot start is a typed error, not a hang", () =>
    Effect.gen(function*() {
      const dir = yield* daemonDir
      const path = nodePath.join(dir, "daemon.sock")
      const exits: AutoStart.Options = { command: nodeBinary, args: ["-e", "process.exit(3)"] }
      const exited = yield* Effect.flip(AutoStart.request(path, "WhoAmI", exits))
      assert.strictEqual(exited._tag, "AutoStartError")
      assert.strictEqual((exited as AutoStart.AutoStartError).reason, "Exited")
      assert.include(exited.message, "exited with code 3")
      // Through the service, the plain client's error, saying the same.
      const viaService = yield* Effect.flip(AutoStart.make(path, exits).request("WhoAmI"))
      assert.strictEqual(viaService._tag, "ConnectError")
      assert.strictEqual((viaService as Client.ConnectError).reason, "OtherError")
      assert.include(viaService.message, "exited with code 3")
      // The start's own failure is kept as its cause.
      const startFailure = (viaService as Client.ConnectError).cause
      assert.instanceOf(startFailure, AutoStart.AutoStartError)
      assert.strictEqual((startFailure as AutoStart.AutoStartError).reason, "Exited")

      const missing: AutoStart.Options = { command: nodePath.join(dir, "no-such-program") }
      const error = yield* Effect.flip(AutoStart.request(path, "WhoAmI", missing))
      assert.strictEqual((error as AutoStart.AutoStartError).reason, "SpawnFailed")
      assert.include(error.message, "ENOENT")
      // The system's error is kept as the cause.
      assert.strictEqual(((error as AutoStart.AutoStartError).cause as NodeJS.ErrnoException).code, "ENOENT")
      const missingViaService = yield* Effect.flip(AutoStart.make(path, missing).request("WhoAmI"))
      assert.strictEqual(missingViaService._tag, "ConnectError")
      assert.include(missingViaService.message, "ENOENT")
    }), 30_000)

  it.live("a path no daemon can listen on is Unreachable; nothing is started", () =>
    Effect.gen(function*() {
      const dir = yield* daemonDir
      const path = nodePath.join(dir, "daemon.sock")
      fs.writeFileSync(path, "not a socket")
      const error = yield* Effect.flip(AutoStart.ensureRunning(path, options(path, dir)))
      assert.strictEqual(error.reason, "Unreachable")
      assert.deepStrictEqual(recorded(dir, "started"), [])
    }))

  it.live("a response lent piece by piece (requestForEach) starts the daemon too", () =>
    Effect.gen(function*() {
      const dir = yield* daemonDir
      const path = nodePath.join(dir, "daemon.sock")
      const pieces: Array<Uint8Array> = []
      yield* AutoStart.make(path, options(path, dir)).requestForEach("WhoAmI", (piece) =>
        Effect.sync(() => void pieces.push(piece.slice())))
      const [winner] = recorded(dir, "listening")
      assert.strictEqual(Buffer.concat(pieces).toString(), String(winner))
    }), 60_000)

  it.live("a ConnectError of requestForEach's own callback is its failure, not a daemon to start", () =>
    Effect.gen(function*() {
      const dir = yield* daemonDir
      const path = nodePath.join(dir, "daemon.sock")
      const running = options(path, dir)
      yield* AutoStart.ensureRunning(path, running)
      let calls = 0
      const error = yield* Effect.flip(AutoStart.requestForEach(path, "WhoAmI", () => {
        calls++
        return Effect.fail(new Client.ConnectError({ path, reason: "NotListening" }))
      }, running))
      assert.strictEqual(error._tag, "ConnectError")
      // Sent once: taken for a daemon not running, it would have been sent again.
      assert.strictEqual(calls, 1)
    }), 60_000)

  it.live("a program reading IpcClient runs unchanged with AutoStart.layer, which starts the daemon, and with Client.layer", () =>
    Effect.gen(function*() {
      const dir = yield* daemonDir
      const path = nodePath.join(dir, "daemon.sock")
      const whoami = Effect.gen(function*() {
        return yield* whoAmI(yield* Client.IpcClient)
      })
      const started = yield* Effect.provide(whoami, AutoStart.layer(path, options(path, dir)))
      assert.deepStrictEqual(recorded(dir, "listening"), [started])
      assert.strictEqual(yield* Effect.provide(whoami, Client.layer(path)), started)
    }), 60_000)

  it.live("a daemon found listening is used after one look; a request to it connects once; nothing is started", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* Server.make(path, (_request, reply) => reply("pong"))
      // A start would fail: there is no such program.
      const options: AutoStart.Options = { command: nodePath.join(nodePath.dirname(path), "no-such-program") }

      yield* AutoStart.ensureRunning(path, options)
      // The look is a connection that sends nothing; the server counts it once it has hung up.
      yield* waitUntil(Effect.map(connections(path), ({ probes }) => probes === 1))
      assert.deepStrictEqual(yield* connections(path), { accepted: 1, probes: 1 })

      assert.strictEqual(Buffer.from(yield* AutoStart.make(path, options).request("ping")).toString(), "pong")
      assert.strictEqual(Buffer.from(yield* AutoStart.request(path, "ping", options)).toString(), "pong")
      assert.deepStrictEqual(yield* connections(path), { accepted: 3, probes: 1 })
    }))

  it.live("make's client: what requestForEach's own callback fails with is passed through as it is, and starts nothing", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      let served = 0
      yield* Server.make(path, (_request, reply) => {
        served++
        return reply("pong")
      })
      const client = AutoStart.make(path, { command: nodePath.join(nodePath.dirname(path), "no-such-program") })
      // An AutoStartError of the callback's own (one of its own requests,
      // say) is not this client's failure to start: not mapped to ConnectError.
      const own = new AutoStart.AutoStartError({ path: "elsewhere", command: "other", reason: "Timeout", detail: "d" })
      assert.strictEqual(yield* Effect.flip(client.requestForEach("ping", () => Effect.fail(own))), own)
      // A ConnectError of its own is not a daemon to start: nothing is sent again.
      const refused = new Client.ConnectError({ path, reason: "NotListening" })
      assert.strictEqual(yield* Effect.flip(client.requestForEach("ping", () => Effect.fail(refused))), refused)
      assert.strictEqual(served, 2)
    }))
})
