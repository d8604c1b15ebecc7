/**
 * Startup, shutdown, stolen sockets, overload and resource hygiene. Run
 * again under a tracer by Server.traced.test.ts.
 */
import { assert, describe } from "@effect/vitest"
import { Deferred, Duration, Effect, Exit, Fiber, Logger, Metric, References, Scope, Stream } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as nodePath from "node:path"
import * as Client from "../../src/client/Client.ts"
import * as Server from "../../src/server/Server.ts"
import * as ServerMetrics from "../../src/server/ServerMetrics.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import * as Connection from "../../src/transport/Connection.ts"
import { text } from "../support/bytes.ts"
import { killAndWait, startDaemon } from "../support/child.ts"
import { baseline, exchange, openFds, waitUntil } from "../support/raw.ts"
import { warmUp } from "../support/warmUp.ts"
import { socketPath, tempDir } from "../support/tempdir.ts"
import { it } from "../support/tracing.ts"

const ping = (path: string) => Effect.map(Client.request(path, "ping"), text)


describe("startup", () => {
  it.live("a stale socket left by a server killed with SIGKILL is replaced by a new server", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const child = yield* startDaemon(path)
      yield* killAndWait(child, "SIGKILL")
      // The socket file is still there, but nobody answers on it.
      assert.isTrue(fs.lstatSync(path).isSocket())
      assert.strictEqual(yield* Client.activeState(path), "NotListening")
      yield* Server.make(path, TestApplication.handler)
      assert.strictEqual(yield* ping(path), "pong")
    }))

  for (const [kind, plant] of [
    ["a regular file", (p: string) => fs.writeFileSync(p, "precious")],
    ["a directory", (p: string) => fs.mkdirSync(p)],
    ["a symlink", (p: string) => fs.symlinkSync(nodePath.join(nodePath.dirname(p), "elsewhere"), p)]
  ] as const) {
    it.live(`${kind} at the socket path is InvalidPath, refused, and left in place`, () =>
      Effect.gen(function*() {
        const path = yield* socketPath()
        plant(path)
        const before = fs.lstatSync(path)
        assert.strictEqual(yield* Client.activeState(path), "InvalidPath")
        const error = yield* Effect.flip(Effect.scoped(Server.make(path, TestApplication.handler)))
        assert.strictEqual(error._tag, "ListenError")
        assert.strictEqual((error as { reason: string }).reason, "NotASocket")
        const after = fs.lstatSync(path)
        assert.strictEqual(after.ino, before.ino)
        if (kind === "a regular file") assert.strictEqual(fs.readFileSync(path, "utf8"), "precious")
        assert.isFalse(fs.existsSync(`${path}.lock`))
      }))
  }

  it.live("interrupting startup at any point leaves no lock file, no socket file and no descriptor behind", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* warmUp(nodePath.join(dir, "warm"))
      const fdsBefore = openFds()
      for (let i = 0; i < 40; i++) {
        const path = nodePath.join(dir, `s${i}`)
        const fiber = yield* Effect.forkChild(Effect.scoped(Effect.andThen(Server.make(path, TestApplication.handler), Effect.never)))
        // Let startup run for a varying number of event-loop turns.
        for (let k = 0; k < i % 8; k++) yield* Effect.promise(() => new Promise((r) => setImmediate(r)))
        yield* Fiber.interrupt(fiber)
      }
      assert.deepStrictEqual(fs.readdirSync(dir), [])
      assert.strictEqual(openFds(), fdsBefore)
    }))
})

describe("quit", () => {
  it.live("a quit stands even when its client hangs up before the flush", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const server = yield* Server.make(path, TestApplication.handler)
      // The client sends quit and hangs up as soon as it has gone out.
      yield* Effect.callback<void>((resume) => {
        const socket = net.connect(path, () => {
          socket.write(Buffer.from("0008quit0000"), () => {
            socket.destroy()
            resume(Effect.void)
          })
        })
        socket.on("error", () => {})
      })
      yield* Effect.timeout(server.join, Duration.seconds(5))
      assert.isFalse(fs.existsSync(path))
    }))
})

describe("stolen sockets", () => {
  it.live("a deleted socket path stops the server within 1 s", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const server = yield* Server.make(path, TestApplication.handler)
      const started = Date.now()
      fs.unlinkSync(path)
      yield* Effect.timeout(server.join, Duration.seconds(1))
      const detected = Date.now() - started
      assert.isBelow(detected, 1000)
      assert.isFalse(fs.existsSync(path))
    }))

  it.live("a socket replaced by a second server stops the first within 1 s; the second keeps its socket", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const first = yield* Server.make(path, TestApplication.handler)
      // Another server takes the path (as a second server would after
      // removing what it took for a stale socket).
      fs.unlinkSync(path)
      const started = Date.now()
      yield* Server.make(path, TestApplication.handler)
      const second = fs.lstatSync(path)
      yield* Effect.timeout(first.join, Duration.seconds(1))
      assert.isBelow(Date.now() - started, 1000)
      const now = fs.lstatSync(path)
      assert.strictEqual(now.ino, second.ino)
      assert.strictEqual(yield* ping(path), "pong")
    }))
})

describe("shutdown", () => {
  it.live("stop lets an in-flight response finish, then removes the socket", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const server = yield* Server.make(path, TestApplication.handler)
      const response = yield* Effect.forkChild(Client.request(path, "slow"))
      // Wait until the response has started: the first line is on its way.
      yield* Effect.sleep(Duration.millis(50))
      yield* server.stop
      yield* server.join
      const body = text(yield* Fiber.join(response))
      assert.strictEqual(body.split("\n").filter(Boolean).length, 1000)
      assert.isFalse(fs.existsSync(path))
    }), 30_000)

  it.live("closing the scope mid-response closes everything and leaves no socket file", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* warmUp(path)
      const settled = baseline()
      const scope = yield* Scope.make()
      yield* Scope.provide(Server.make(path, TestApplication.handler, { gracePeriod: Duration.millis(100) }), scope)
      const started = yield* Deferred.make<void>()
      const response = yield* Effect.forkChild(
        Client.requestStream(path, "slow").pipe(
          Stream.tap(() => Deferred.succeed(started, undefined)),
          Stream.runDrain,
          Effect.exit
        )
      )
      yield* Deferred.await(started)
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Fiber.join(response)
      // The client sees an incomplete response, as a typed error.
      assert.isTrue(Exit.isFailure(exit))
      assert.isFalse(fs.existsSync(path))
      assert.deepStrictEqual(fs.readdirSync(nodePath.dirname(path)), [])
      yield* settled
    }), 30_000)

  it.live("a running server and many requests leave no descriptor or handle behind once its scope closes", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* warmUp(path)
      const settled = baseline()
      yield* Effect.scoped(Effect.gen(function*() {
        yield* Server.make(path, TestApplication.handler)
        yield* Effect.forEach(Array.from({ length: 50 }), () => ping(path), { concurrency: 8 })
        yield* Client.activeState(path)
      }))
      yield* settled
      assert.isFalse(fs.existsSync(path))
    }))
})

describe("serving", () => {
  it.live("a full queue closes new connections at once without harming the server", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const entered = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const handler: Server.Handler<never> = (request, reply) =>
        text(request) === "hold"
          ? Effect.andThen(Deferred.succeed(entered, undefined), Effect.andThen(Deferred.await(release), Effect.orDie(reply("held"))))
          : Effect.orDie(reply("pong"))
      yield* Server.make(path, handler, { threads: 1, queueCapacity: 1 })
      const holder = yield* Effect.forkChild(Client.request(path, "hold"))
      yield* Deferred.await(entered)
      // The one worker is busy: one of these two waits in the queue, the
      // other finds the queue full and is closed at once.
      const a = yield* Effect.forkChild(Effect.exit(ping(path)))
      const b = yield* Effect.forkChild(Effect.exit(ping(path)))
      const firstDone = yield* Effect.raceFirst(Fiber.join(a), Fiber.join(b))
      assert.isTrue(Exit.isFailure(firstDone))
      yield* Deferred.succeed(release, undefined)
      const outcomes = [yield* Fiber.join(a), yield* Fiber.join(b)]
      assert.strictEqual(outcomes.filter(Exit.isSuccess).length, 1)
      assert.strictEqual(text(yield* Fiber.join(holder)), "held")
      assert.strictEqual(yield* ping(path), "pong")
    }))

  it.live("probes and malformed requests never reach the handler; handler failures end only their own connection", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const seen: Array<string> = []
      const handler: Server.Handler<string> = (request, reply) => {
        const command = text(request)
        seen.push(command)
        if (command === "fail") return Effect.fail("application error")
        if (command === "die") return Effect.die(new Error("bug"))
        return Effect.asVoid(Effect.orDie(reply("ok")))
      }
      yield* Server.make(path, handler)
      assert.strictEqual(yield* Client.activeState(path), "Listening")
      const failed = yield* Effect.flip(Client.request(path, "fail"))
      assert.strictEqual(failed._tag, "PktLineError")
      const died = yield* Effect.flip(Client.request(path, "die"))
      assert.strictEqual(died._tag, "PktLineError")
      assert.strictEqual(text(yield* Client.request(path, "x")), "ok")
      assert.deepStrictEqual(seen, ["fail", "die", "x"])
    }))

  it.live("a path longer than 108 bytes works for the server and 16 concurrent clients", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const deep = nodePath.join(dir, "a-rather-long-directory-name-to-go-past-the-limit".repeat(3))
      fs.mkdirSync(deep)
      const path = nodePath.join(deep, "ipc.sock")
      assert.isAbove(Buffer.byteLength(path), 108)
      const cwd = process.cwd()
      const server = yield* Server.make(path, TestApplication.handler, { threads: 8 })
      assert.strictEqual(yield* Client.activeState(path), "Listening")
      const replies = yield* Effect.forEach(
        Array.from({ length: 16 }, (_, i) => i),
        (i) => Effect.map(Client.request(path, "sendbytes " + "z".repeat(100 + i), { waitIfBusy: true }), text),
        { concurrency: "unbounded" }
      )
      replies.forEach((reply, i) => assert.strictEqual(reply, `rcvd:z${String(100 + i).padStart(8, "0")}\n`))
      assert.strictEqual(process.cwd(), cwd)
      yield* server.stop
      yield* server.join
      assert.isFalse(fs.existsSync(path))
    }))

  it.live("a streamed-response handler sends each chunk as it comes", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* Server.make(path, Server.streamHandler((request) => Stream.make(request, request, new Uint8Array(0), request)))
      const chunks = yield* Stream.runCollect(Client.requestStream(path, "ab"))
      assert.strictEqual(chunks.map(text).join(""), "ababab")
    }))
})

describe("the worker pool", () => {
  it.live("at most `threads` requests are served at once; the others wait their turn and are all served", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      let running = 0
      let most = 0
      const twoIn = yield* Deferred.make<void>()
      const release = yield* Deferred.make<void>()
      const handler: Server.Handler<never> = (request, reply) =>
        Effect.gen(function*() {
          running++
          most = Math.max(most, running)
          if (running === 2) yield* Deferred.succeed(twoIn, undefined)
          yield* Deferred.await(release)
          yield* Effect.orDie(reply(request))
          running--
        })
      yield* Server.make(path, handler, { threads: 2 })
      const requests = yield* Effect.forkChild(Effect.forEach(
        ["a", "b", "c", "d", "e", "f"],
        (name) => Effect.map(Client.request(path, name), text),
        { concurrency: "unbounded" }
      ))
      yield* Deferred.await(twoIn)
      // Every connection is in the server's hands (taken or queued) before
      // the first two may finish.
      yield* waitUntil(Effect.map(
        Metric.value(Metric.withAttributes(ServerMetrics.accepted, { socket: path })),
        (state) => state.count === 6
      ))
      yield* Deferred.succeed(release, undefined)
      assert.deepStrictEqual(yield* Fiber.join(requests), ["a", "b", "c", "d", "e", "f"])
      assert.strictEqual(most, 2)
    }))

  it.live("when the grace period runs out, a running handler is interrupted and a request still arriving is cut off; nothing is left open", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* warmUp(path)
      const settled = baseline()
      const entered = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const handler: Server.Handler<never> = () =>
        Effect.andThen(Deferred.succeed(entered, undefined), Effect.never).pipe(
          Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
        )
      const scope = yield* Scope.make()
      yield* Scope.provide(Server.make(path, handler, { gracePeriod: Duration.millis(100) }), scope)
      // A request whose length promises nine bytes, of which two come.
      const partial = yield* Effect.forkChild(exchange(path, new TextEncoder().encode("0009pi")))
      const hung = yield* Effect.forkChild(Effect.exit(Client.request(path, "hang")))
      yield* Deferred.await(entered)
      yield* Scope.close(scope, Exit.void)
      yield* Deferred.await(interrupted)
      assert.isTrue(Exit.isFailure(yield* Fiber.join(hung)))
      const cut = yield* Fiber.join(partial)
      assert.isTrue(cut.closed)
      assert.strictEqual(cut.response.length, 0)
      // It was cut off by the end of the grace period, not dropped at the
      // stop as a connection that had sent nothing would be.
      const shutdownDrops = yield* Metric.value(
        Metric.withAttributes(ServerMetrics.dropped, { socket: path, reason: "shutdown" })
      )
      assert.strictEqual(shutdownDrops.count, 0)
      assert.isFalse(fs.existsSync(path))
      yield* settled
    }))

  it.live("fibers a handler forks as children end with its response; one forked into a longer scope goes on", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const childStarted = yield* Deferred.make<void>()
      const childEnded = yield* Deferred.make<void>()
      const outer = yield* Scope.make()
      let detached: Fiber.Fiber<never> | undefined
      const handler: Server.Handler<never> = (_request, reply) =>
        Effect.gen(function*() {
          yield* Effect.forkChild(
            Effect.andThen(Deferred.succeed(childStarted, undefined), Effect.never).pipe(
              Effect.onInterrupt(() => Deferred.succeed(childEnded, undefined))
            )
          )
          detached = yield* Effect.forkIn(Effect.never, outer)
          yield* Deferred.await(childStarted)
          yield* Effect.orDie(reply("ok"))
        })
      yield* Server.make(path, handler)
      assert.strictEqual(yield* ping(path), "ok")
      yield* Deferred.await(childEnded)
      assert.isUndefined(detached!.pollUnsafe())
      yield* Scope.close(outer, Exit.void)
      assert.isTrue(Exit.hasInterrupts(yield* Fiber.await(detached!)))
    }))

  it.live("a handler that interrupts itself ends its own connection only; its place serves the next request", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const handler: Server.Handler<never> = (request, reply) =>
        text(request) === "interrupt" ? Effect.interrupt : Effect.orDie(reply("ok"))
      yield* Server.make(path, handler, { threads: 1 })
      const error = yield* Effect.flip(Client.request(path, "interrupt"))
      assert.strictEqual(error._tag, "PktLineError")
      assert.strictEqual(yield* ping(path), "ok")
      assert.strictEqual(yield* ping(path), "ok")
    }))

  it.live("a handler that throws instead of failing ends its own connection only, counted as failed; its place serves the next request", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const handler: Server.Handler<never> = (request, reply) => {
        if (text(request) === "throw") throw new Error("a bug in the application")
        return Effect.orDie(reply("ok"))
      }
      yield* Server.make(path, handler, { threads: 1 })
      const error = yield* Effect.flip(Client.request(path, "throw"))
      assert.strictEqual(error._tag, "PktLineError")
      assert.strictEqual(yield* ping(path), "ok")
      const failed = yield* Metric.value(
        Metric.withAttributes(ServerMetrics.dropped, { socket: path, reason: "handler_failed" })
      )
      assert.strictEqual(failed.count, 1)
    }))

  it.live("a reply kept past its response fails, and never reaches the next connection served in the same place", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      let kept: Server.Reply | undefined
      const late = yield* Deferred.make<Exit.Exit<void, Connection.TransportError>>()
      const handler: Server.Handler<never> = (request, reply) =>
        Effect.gen(function*() {
          if (text(request) === "first") {
            kept = reply
            return yield* Effect.orDie(reply("one"))
          }
          // The first request's reply, used while the second is served.
          yield* Deferred.succeed(late, yield* Effect.exit(kept!("stray")))
          yield* Effect.orDie(reply("two"))
        })
      yield* Server.make(path, handler, { threads: 1 })
      assert.strictEqual(text(yield* Client.request(path, "first")), "one")
      assert.strictEqual(text(yield* Client.request(path, "second")), "two")
      const exit = yield* Deferred.await(late)
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(exit)
      assert.instanceOf(error, Connection.TransportError)
      assert.strictEqual(error.operation, "write")
    }))

  it.live("what a handler logs carries the server's socket path", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const annotations: Array<Record<string, unknown>> = []
      const logger = Logger.make(({ fiber, message }) => {
        if (String(message) === "handling") annotations.push({ ...fiber.getRef(References.CurrentLogAnnotations) })
      })
      const handler: Server.Handler<never> = (_request, reply) =>
        Effect.andThen(Effect.log("handling"), Effect.orDie(reply("ok")))
      yield* Server.make(path, handler).pipe(Effect.provide(Logger.layer([logger])))
      assert.strictEqual(yield* ping(path), "ok")
      assert.deepStrictEqual(annotations, [{ socket: path }])
    }))
})
