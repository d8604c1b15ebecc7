/**
 * The identity handshake: a server answers the reserved identity request
 * only when asked to, and a client that requires a daemon of its own
 * version restarts (or refuses) another, whatever the pairing of old and
 * new on either side, however many clients race to do it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Layer, Option, Stream } from "effect"
import { RpcClient, RpcServer } from "effect/rpc"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as AutoStart from "../../src/client/AutoStart.ts"
import * as Client from "../../src/client/Client.ts"
import * as Control from "../../src/client/Control.ts"
import * as Server from "../../src/server/Server.ts"
import * as SimpleIpcRpc from "../../src/rpc/SimpleIpcRpc.ts"
import { DaemonRpcs } from "../support/autoStartDaemon.ts"
import { nodeBinary } from "../support/child.ts"
import { waitUntil } from "../support/raw.ts"
import { socketPath } from "../support/tempdir.ts"
import {
  daemonDir,
  daemonProcesses,
  identityRequest,
  parseWhoami,
  quitsSent,
  recorded,
  requiring,
  startOptions,
  statusRequest
} from "./support.ts"

const whoami = (path: string) => Effect.map(Client.request(path, "whoami"), parseWhoami)

/** A server whose application answers every request with `app:` and the request, recording what it saw. */
const echoServer = (path: string, options?: Server.Options) =>
  Effect.gen(function*() {
    const seen: Array<Buffer> = []
    yield* Server.make(path, (request, reply) => {
      seen.push(Buffer.from(request))
      return reply(Buffer.concat([Buffer.from("app:"), request]))
    }, options)
    return seen
  })

const declared: Control.Declared = { name: "echo", version: "3.1.4", protocol: "7" }

/**
 * A daemon in this process that answers the identity request itself, as
 * `identity()` says, counting how often it is asked; `quit` by stopping;
 * anything else with `app:` and the request.
 */
const countingDaemon = (path: string, identity: () => Control.Declared, options?: Server.Options) =>
  Effect.gen(function*() {
    const asked = { identity: 0 }
    const quit = yield* Deferred.make<void>()
    const server = yield* Server.make(path, (request, reply) => {
      if (Buffer.from(request).equals(identityRequest)) {
        asked.identity++
        return reply(JSON.stringify({ ...identity(), pid: process.pid, startedAt: 0 }))
      }
      if (Buffer.from(request).toString() === "quit") return Effect.as(Deferred.succeed(quit, undefined), Server.Quit)
      return reply(Buffer.concat([Buffer.from("app:"), request]))
    }, options)
    return { asked, quit, server }
  })

describe("the identity request on the server", () => {
  it.live("without the option, the reserved requests are the application's, as any other", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const seen = yield* echoServer(path)
      const answer = yield* Client.request(path, identityRequest)
      assert.deepStrictEqual(Buffer.from(answer), Buffer.concat([Buffer.from("app:"), identityRequest]))
      assert.isTrue(Option.isNone(yield* Control.identity(path)))
      const refused = yield* Effect.flip(Control.status(path))
      assert.strictEqual(refused._tag, "ControlError")
      assert.include(refused.message, "does not answer status requests")
      assert.deepStrictEqual(seen, [identityRequest, identityRequest, statusRequest])
    }))

  it.live("with it, the identity is answered before the application sees the request; nothing else changes", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const before = Date.now()
      const seen = yield* echoServer(path, { identity: declared })
      const after = Date.now()
      const identity = Option.getOrThrow(yield* Control.identity(path))
      assert.deepStrictEqual({ name: identity.name, version: identity.version, protocol: identity.protocol }, declared)
      assert.strictEqual(identity.pid, process.pid)
      assert.isAtLeast(identity.startedAt, before)
      assert.isAtMost(identity.startedAt, after)
      // The answer on the wire is the identity's JSON.
      assert.deepStrictEqual(JSON.parse(Buffer.from(yield* Client.request(path, identityRequest)).toString()), identity)
      // Only the exact request is reserved: with anything after it, or
      // status (not asked for), it is the application's.
      const longer = Buffer.concat([identityRequest, Buffer.from(" please")])
      assert.deepStrictEqual(Buffer.from(yield* Client.request(path, longer)), Buffer.concat([Buffer.from("app:"), longer]))
      assert.strictEqual(Buffer.from(yield* Client.request(path, "ping")).toString(), "app:ping")
      assert.strictEqual((yield* Effect.flip(Control.status(path)))._tag, "ControlError")
      assert.deepStrictEqual(seen, [longer, Buffer.from("ping"), statusRequest])
    }))

  it.live("a daemon that breaks off its answer, or is an RPC server, declares no identity; an RPC server may", () =>
    Effect.gen(function*() {
      const failing = yield* socketPath()
      yield* Server.make(failing, () => Effect.die("no such command"))
      assert.isTrue(Option.isNone(yield* Control.identity(failing)))

      const handlers = DaemonRpcs.toLayer({ WhoAmI: () => Effect.succeed(process.pid), Stop: () => Effect.void })
      const rpcServer = (path: string, options?: Server.Options) =>
        Layer.build(RpcServer.layer(DaemonRpcs).pipe(
          Layer.provide(handlers),
          Layer.provide(SimpleIpcRpc.layerProtocolServer(path, options))
        ))
      const plain = yield* socketPath()
      yield* rpcServer(plain)
      // The identity request is an RPC call the group does not have: its
      // answer is no identity.
      assert.isTrue(Option.isNone(yield* Control.identity(plain)))
      const declaring = yield* socketPath()
      yield* rpcServer(declaring, { identity: declared })
      assert.strictEqual(Option.getOrThrow(yield* Control.identity(declaring)).name, "echo")
      // And its calls are served as before.
      const client = yield* RpcClient.make(DaemonRpcs).pipe(
        Effect.provide(SimpleIpcRpc.layerProtocolClient(declaring, { group: DaemonRpcs }))
      )
      assert.strictEqual(yield* client.WhoAmI(), process.pid)
    }))
})

describe("the handshake between clients and daemons", () => {
  it.live("a daemon that never answers the identity request: RequestTimeoutError after stopTimeout, not a hang", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* Server.make(path, () => Effect.never, { gracePeriod: Duration.millis(100) })
      const base = requiring(path, nodePath.dirname(path), "2")
      const options: AutoStart.Options = { ...base, identity: { ...base.identity!, stopTimeout: Duration.millis(200) } }
      const error = yield* Effect.flip(AutoStart.request(path, "whoami", options))
      assert.strictEqual(error._tag, "RequestTimeoutError")
      assert.strictEqual((error as Client.RequestTimeoutError).timeoutMillis, 200)
    }))

  it.live("old client, new daemon: a client that requires nothing is served as before", () =>
    Effect.gen(function*() {
      const dir = yield* daemonDir
      const path = nodePath.join(dir, "daemon.sock")
      // The new daemon, started by a new client.
      yield* AutoStart.ensureRunning(path, requiring(path, dir, "2"))
      const daemon = (yield* whoami(path)).pid
      // An old client: no identity option, its own start command.
      const answer = parseWhoami(yield* AutoStart.request(path, "whoami", startOptions(path, dir, "1")))
      assert.deepStrictEqual(answer, { pid: daemon, version: "2" })
      assert.deepStrictEqual(recorded(dir, "started"), [daemon])
    }), 60_000)

  it.live("new client, old daemon (no identity): restarted; the old one is asked once and goes", () =>
    Effect.gen(function*() {
      const dir = yield* daemonDir
      const path = nodePath.join(dir, "daemon.sock")
      yield* AutoStart.ensureRunning(path, startOptions(path, dir, "none"))
      const old = (yield* whoami(path)).pid
      assert.isTrue(Option.isNone(yield* Control.identity(path)))

      const answer = parseWhoami(yield* AutoStart.request(path, "whoami", requiring(path, dir, "2")))
      assert.strictEqual(answer.version, "2")
      assert.notStrictEqual(answer.pid, old)
      assert.strictEqual(quitsSent(dir, old), 1)
      yield* waitUntil(Effect.sync(() => !daemonProcesses(dir).includes(old)), Duration.seconds(30))
      assert.strictEqual(Option.getOrThrow(yield* Control.identity(path)).pid, answer.pid)
    }), 60_000)

  it.live("new client, old daemon, policy fail: a typed error naming both; the old daemon is left alone", () =>
    Effect.gen(function*() {
      const dir = yield* daemonDir
      const path = nodePath.join(dir, "daemon.sock")
      yield* AutoStart.ensureRunning(path, startOptions(path, dir, "none"))
      const old = (yield* whoami(path)).pid

      const error = yield* Effect.flip(AutoStart.request(path, "whoami", requiring(path, dir, "2", "fail")))
      assert.strictEqual(error._tag, "IdentityError")
      const mismatch = error as AutoStart.IdentityError
      assert.strictEqual(mismatch.reason, "Mismatch")
      assert.isUndefined(mismatch.running)
      assert.include(mismatch.message, "unknown")
      assert.include(mismatch.message, "lifecycle-test 2 (protocol 1)")
      assert.include(mismatch.message, path)
      assert.strictEqual(quitsSent(dir, old), 0)
      // Through the IpcClient service: the plain client's error, with the same message and the IdentityError as cause.
      const viaService = yield* Effect.flip(AutoStart.make(path, requiring(path, dir, "2", "fail")).request("whoami"))
      assert.strictEqual(viaService._tag, "ConnectError")
      assert.strictEqual((viaService as Client.ConnectError).reason, "OtherError")
      assert.include(viaService.message, "lifecycle-test 2 (protocol 1)")
      assert.instanceOf((viaService as Client.ConnectError).cause, AutoStart.IdentityError)
      // The old daemon still serves.
      assert.strictEqual(parseWhoami(yield* Client.request(path, "whoami")).pid, old)
    }), 60_000)

  it.live("same version: served by the running daemon; nothing stopped, nothing started", () =>
    Effect.gen(function*() {
      const dir = yield* daemonDir
      const path = nodePath.join(dir, "daemon.sock")
      const options = requiring(path, dir, "2")
      // The first request finds none and starts it (then checks what came up).
      const first = parseWhoami(yield* AutoStart.request(path, "whoami", options))
      const second = parseWhoami(yield* AutoStart.request(path, "whoami", options))
      const viaService = parseWhoami(yield* AutoStart.make(path, options).request("whoami"))
      assert.deepStrictEqual([second, viaService], [first, first])
      assert.deepStrictEqual(recorded(dir, "started"), [first.pid])
      assert.strictEqual(quitsSent(dir, first.pid), 0)
    }), 60_000)

  it.live("another version: restarted under policy restart; policy fail names both identities", () =>
    Effect.gen(function*() {
      const dir = yield* daemonDir
      const path = nodePath.join(dir, "daemon.sock")
      const one = parseWhoami(yield* AutoStart.request(path, "whoami", requiring(path, dir, "1")))
      assert.strictEqual(one.version, "1")

      const error = (yield* Effect.flip(AutoStart.request(path, "whoami", requiring(path, dir, "2", "fail")))) as AutoStart.IdentityError
      assert.strictEqual(error.reason, "Mismatch")
      assert.strictEqual(error.running?.version, "1")
      assert.strictEqual(error.running?.pid, one.pid)
      assert.include(error.message, `lifecycle-test 1 (protocol 1, pid ${one.pid})`)
      assert.include(error.message, "lifecycle-test 2 (protocol 1)")

      const two = parseWhoami(yield* AutoStart.request(path, "whoami", requiring(path, dir, "2")))
      assert.strictEqual(two.version, "2")
      assert.notStrictEqual(two.pid, one.pid)
      assert.strictEqual(quitsSent(dir, one.pid), 1)
      // A looser client (any version of the protocol) keeps what runs.
      const loose: AutoStart.Options = {
        ...requiring(path, dir, "1"),
        identity: { expected: { name: "lifecycle-test", version: "1", protocol: "1" }, compatible: (running) => running.protocol === "1" }
      }
      assert.deepStrictEqual(parseWhoami(yield* AutoStart.request(path, "whoami", loose)), two)
      assert.strictEqual(quitsSent(dir, two.pid), 0)
    }), 60_000)

  it.live("a daemon that will not stop: StillRunning after stopTimeout, naming both identities", () =>
    Effect.gen(function*() {
      const dir = yield* daemonDir
      const path = nodePath.join(dir, "daemon.sock")
      yield* AutoStart.ensureRunning(path, startOptions(path, dir, "1"))
      const base = requiring(path, dir, "2")
      const stubborn: AutoStart.Options = {
        ...base,
        // The daemon does not know this request, and goes on serving.
        identity: { ...base.identity!, stopRequest: "please stop", stopTimeout: Duration.millis(300) }
      }
      const error = (yield* Effect.flip(AutoStart.request(path, "whoami", stubborn))) as AutoStart.IdentityError
      assert.strictEqual(error._tag, "IdentityError")
      assert.strictEqual(error.reason, "StillRunning")
      assert.include(error.message, "lifecycle-test 1 (protocol 1, pid")
      assert.include(error.message, "lifecycle-test 2 (protocol 1)")
      assert.include(error.message, "still listens")
      // The lock the restart held is released.
      assert.isFalse(fs.existsSync(`${path}.lock`))
    }), 60_000)

  it.live("ten new clients racing against one old daemon: one restart, one new daemon, every call answered by it", () =>
    Effect.gen(function*() {
      const dir = yield* daemonDir
      const path = nodePath.join(dir, "daemon.sock")
      yield* AutoStart.ensureRunning(path, startOptions(path, dir, "none"))
      const old = (yield* whoami(path)).pid

      const answers = yield* Effect.all(
        Array.from({ length: 10 }, () => AutoStart.request(path, "whoami", requiring(path, dir, "2"))),
        { concurrency: "unbounded" }
      )

      const winner = parseWhoami(answers[0]!).pid
      assert.notStrictEqual(winner, old)
      assert.deepStrictEqual(answers.map(parseWhoami), Array.from({ length: 10 }, () => ({ pid: winner, version: "2" })))
      assert.strictEqual(quitsSent(dir, old), 1)
      assert.strictEqual(quitsSent(dir, winner), 0)
      // Every daemon started for the race has exited but the winner; the old one too.
      yield* waitUntil(Effect.sync(() => daemonProcesses(dir).length === 1), Duration.seconds(30))
      assert.deepStrictEqual(daemonProcesses(dir), [winner])
      // None but the winner ever listened (a daemon records itself just after it listens).
      yield* waitUntil(Effect.sync(() => recorded(dir, "listening").includes(winner)))
      assert.sameMembers(recorded(dir, "listening"), [old, winner])
    }), 120_000)

  it.live("AutoStart.make's client checks at its first request, again only after a failed check; each client has its own mark", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      let answering: Control.Declared = { ...declared, version: "3.0.0" }
      const daemon = yield* countingDaemon(path, () => answering)
      const options: AutoStart.Options = {
        // Never run: a daemon answers throughout.
        command: nodeBinary,
        args: ["-e", "process.exit(3)"],
        identity: { expected: declared, onMismatch: "fail" }
      }
      const client = AutoStart.make(path, options)
      const refused = yield* Effect.flip(client.request("ping"))
      assert.instanceOf((refused as Client.ConnectError).cause, AutoStart.IdentityError)
      assert.strictEqual(daemon.asked.identity, 1)

      answering = declared
      for (let i = 0; i < 3; i++) assert.strictEqual(Buffer.from(yield* client.request("ping")).toString(), "app:ping")
      yield* Stream.runDrain(client.requestStream("ping"))
      yield* client.requestForEach("ping", () => Effect.void)
      assert.strictEqual(daemon.asked.identity, 2, "checked again after the failed check, then no more")

      // Another client made with the same options has a mark of its own.
      yield* AutoStart.make(path, options).request("ping")
      assert.strictEqual(daemon.asked.identity, 3)
      // The request functions check before every request.
      yield* AutoStart.request(path, "ping", options)
      yield* AutoStart.request(path, "ping", options)
      assert.strictEqual(daemon.asked.identity, 5)
    }))

  it.live("AutoStart.make's client whose first check restarted the daemon checks the new one, then no more", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const old = yield* countingDaemon(path, () => ({ ...declared, version: "3.0.0" }))
      // The daemon that takes the old one's place: the client's own start
      // runs a program that exits at once, and it waits (exitGrace) for
      // whichever daemon listens, as when another client's start wins.
      const replacing = yield* Effect.forkChild(Effect.gen(function*() {
        yield* Deferred.await(old.quit)
        yield* old.server.join
        // The restarting client holds the start-up lock until it sees the old one gone.
        return yield* countingDaemon(path, () => declared, { lockTimeout: Duration.seconds(30) })
      }))
      const client = AutoStart.make(path, {
        command: nodeBinary,
        args: ["-e", "process.exit(0)"],
        startTimeout: Duration.seconds(30),
        exitGrace: Duration.seconds(30),
        identity: { expected: declared, stopTimeout: Duration.seconds(30) }
      })

      assert.strictEqual(Buffer.from(yield* client.request("first")).toString(), "app:first")
      const replacement = yield* Fiber.join(replacing)
      // The old daemon was asked before the restart and again under the lock.
      assert.strictEqual(old.asked.identity, 2)
      assert.strictEqual(replacement.asked.identity, 1)
      assert.strictEqual(Buffer.from(yield* client.request("second")).toString(), "app:second")
      assert.strictEqual(replacement.asked.identity, 1)
    }), 60_000)

  // A client's daemon has gone (idle shutdown, say). Its next request finds
  // none and starts one; the daemon listening after that start may be
  // another starter's, here an older client's. It is checked before the
  // request is sent to it, by a client made with `make` (whose first check
  // passed long ago) as by a plain `request`.
  for (const via of ["make", "request"] as const) {
    it.live(`a daemon started because a request found none is checked before the request goes to it (${via})`, () =>
      Effect.gen(function*() {
        const path = yield* socketPath()
        const started = nodePath.join(nodePath.dirname(path), "started")
        const options: AutoStart.Options = {
          // The client's own start only marks that it ran; the daemon that
          // wins the socket is the one this test serves.
          command: nodeBinary,
          args: ["-e", `require("fs").writeFileSync(${JSON.stringify(started)}, "")`],
          startTimeout: Duration.seconds(30),
          exitGrace: Duration.seconds(30),
          identity: { expected: declared, onMismatch: "fail" }
        }
        const client = AutoStart.make(path, options)
        const send = (request: string) => via === "make" ? client.request(request) : AutoStart.request(path, request, options)
        const first = yield* countingDaemon(path, () => declared)
        assert.strictEqual(Buffer.from(yield* send("first")).toString(), "app:first")
        assert.strictEqual(first.asked.identity, 1)
        yield* Client.request(path, "quit")
        yield* first.server.join

        const second = yield* Effect.forkChild(Effect.flip(send("second")))
        yield* waitUntil(Effect.sync(() => fs.existsSync(started)))
        const older = yield* countingDaemon(path, () => ({ ...declared, version: "0.9.0" }))
        const refused = yield* Fiber.join(second)
        const identityError = via === "make" ? (refused as Client.ConnectError).cause : refused
        assert.instanceOf(identityError, AutoStart.IdentityError)
        assert.include((identityError as AutoStart.IdentityError).message, "0.9.0")
        assert.strictEqual(older.asked.identity, 1)
        yield* Client.request(path, "quit")
        yield* older.server.join

        // A daemon of the client's own version, started the same way, is
        // checked once and serves the request.
        fs.rmSync(started)
        const third = yield* Effect.forkChild(send("third"))
        yield* waitUntil(Effect.sync(() => fs.existsSync(started)))
        const same = yield* countingDaemon(path, () => declared)
        assert.strictEqual(Buffer.from(yield* Fiber.join(third)).toString(), "app:third")
        assert.strictEqual(same.asked.identity, 1)
      }), 60_000)
  }
})
