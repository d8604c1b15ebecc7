/**
 * Crashes of servers and starters, stale locks, and files that are not
 * ours: nothing lost, no manual cleanup, nothing deleted that we did not
 * make.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Stream } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as nodePath from "node:path"
import * as Client from "../../src/client/Client.ts"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { text } from "../support/bytes.ts"
import { killAndWait, nodeBinary, spawnScoped, startDaemon, startLockHolder, supportFile } from "../support/child.ts"
import { socketPath } from "../support/tempdir.ts"

const ping = (path: string) => Effect.map(Client.request(path, "ping"), text)

/** The pid of a process that has exited. */
const deadPid = Effect.callback<number>((resume) => {
  const child = spawn(nodeBinary, ["-e", ""], { stdio: "ignore" })
  child.once("exit", () => resume(Effect.succeed(child.pid!)))
})

describe("crash recovery", () => {
  it.live("SIGKILL of the daemon mid-response: the client gets a typed error and a new daemon starts", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const daemon = yield* startDaemon(path)
      let received = 0
      const response = Client.requestStream(path, "slow").pipe(
        Stream.tap((chunk) =>
          Effect.gen(function*() {
            received += chunk.length
            // Kill the daemon once the response is well under way.
            if (received >= 20 * 80 && daemon.exitCode === null) yield* killAndWait(daemon, "SIGKILL")
          })
        ),
        Stream.runDrain
      )
      const error = yield* Effect.flip(response)
      assert.include(["PktLineError", "SocketError"], error._tag)
      assert.isBelow(received, 1000 * 80)
      // The dead daemon's socket is still there; a new one takes over.
      assert.isTrue(fs.lstatSync(path).isSocket())
      yield* Server.make(path, TestApplication.handler)
      assert.strictEqual(yield* ping(path), "pong")
    }), 30_000)

  it.live("a starter killed while holding the lock does not block the next start", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const holder = yield* startLockHolder(`${path}.lock`)
      assert.isTrue(fs.existsSync(`${path}.lock`))
      yield* killAndWait(holder, "SIGKILL")
      yield* Server.make(path, TestApplication.handler)
      assert.strictEqual(yield* ping(path), "pong")
      assert.isFalse(fs.existsSync(`${path}.lock`))
    }))

  it.live("a lock recording a process that no longer exists is broken", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const pid = yield* deadPid
      fs.writeFileSync(`${path}.lock`, `${pid}\n\n${Date.now()}\n`)
      yield* Server.make(path, TestApplication.handler)
      assert.strictEqual(yield* ping(path), "pong")
    }))

  it.live("a lock held by a live starter is never broken", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const holder = yield* startLockHolder(`${path}.lock`)
      const contents = fs.readFileSync(`${path}.lock`, "utf8")
      const error = yield* Effect.flip(Effect.scoped(Server.make(path, TestApplication.handler)))
      assert.strictEqual(error._tag, "LockError")
      assert.strictEqual((error as { reason: string }).reason, "Held")
      assert.include(error.message, `process ${holder.pid}`)
      assert.strictEqual(fs.readFileSync(`${path}.lock`, "utf8"), contents)
    }))

  it.live("a lock older than staleAfter is broken even if its pid is alive (the pid may have been reused)", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      fs.writeFileSync(`${path}.lock`, `${process.pid}\n\n${Date.now() - 120_000}\n`)
      yield* Server.make(path, TestApplication.handler, { lockStaleAfter: Duration.seconds(60) })
      assert.strictEqual(yield* ping(path), "pong")
    }))
})

describe("a busy server is not a stale one", () => {
  it.live("a live server whose backlog is full (connects fail with EAGAIN) keeps its socket", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const busy = yield* spawnScoped([supportFile("busyServer.ts"), path], { stdio: "pipe" })
      yield* Effect.callback<void>((resume) => {
        busy.stdout!.once("data", () => resume(Effect.void))
      })
      // Fill the backlog until the kernel refuses with EAGAIN.
      const held: Array<net.Socket> = []
      yield* Effect.addFinalizer(() => Effect.sync(() => held.forEach((s) => s.destroy())))
      let errno: string | undefined
      for (let i = 0; i < 20 && errno === undefined; i++) {
        errno = yield* Effect.callback<string | undefined>((resume) => {
          const socket = net.connect(path)
          held.push(socket)
          socket.once("connect", () => resume(Effect.succeed(undefined)))
          socket.once("error", (e: NodeJS.ErrnoException) => resume(Effect.succeed(e.code)))
        })
      }
      assert.strictEqual(errno, "EAGAIN")
      const before = fs.lstatSync(path)
      const error = yield* Effect.flip(Effect.scoped(Server.make(path, TestApplication.handler)))
      assert.strictEqual(error._tag, "ListenError")
      assert.strictEqual((error as { reason: string }).reason, "AddressInUse")
      assert.strictEqual(fs.lstatSync(path).ino, before.ino)
    }))
})

describe("files that are not ours survive", () => {
  for (const [kind, plant] of [
    ["a directory", (p: string) => fs.mkdirSync(p)],
    ["a symlink", (p: string) => fs.symlinkSync(nodePath.join(nodePath.dirname(p), "target"), p)],
    ["a symlink to a real file", (p: string) => {
      fs.writeFileSync(nodePath.join(nodePath.dirname(p), "target"), "keep")
      fs.symlinkSync(nodePath.join(nodePath.dirname(p), "target"), p)
    }]
  ] as const) {
    it.live(`${kind} at the lock path is never removed or followed; startup fails clearly`, () =>
      Effect.gen(function*() {
        const path = yield* socketPath()
        const lock = `${path}.lock`
        plant(lock)
        const before = fs.lstatSync(lock)
        const error = yield* Effect.flip(Effect.scoped(Server.make(path, TestApplication.handler)))
        assert.strictEqual(error._tag, "LockError")
        assert.strictEqual((error as { reason: string }).reason, "NotALockFile")
        assert.include(error.message, "not a regular file")
        assert.strictEqual(fs.lstatSync(lock).ino, before.ino)
        const target = nodePath.join(nodePath.dirname(path), "target")
        if (fs.existsSync(target)) assert.strictEqual(fs.readFileSync(target, "utf8"), "keep")
        assert.isFalse(fs.existsSync(path))
      }))
  }

  it.live("the socket is created owner-only (0600) by default, and with the mode asked for", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* Server.make(path, TestApplication.handler)
      assert.strictEqual(fs.statSync(path).mode & 0o777, 0o600)
      const other = yield* socketPath("other.sock")
      yield* Server.make(other, TestApplication.handler, { mode: 0o660 })
      assert.strictEqual(fs.statSync(other).mode & 0o777, 0o660)
    }))
})
