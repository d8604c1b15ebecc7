/**
 * Crashes of servers, busy servers, and files that are not ours: nothing
 * lost, no manual cleanup, nothing deleted that we did not make. (The
 * startup lock's own cases are in test/transport/Lockfile.test.ts.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"
import * as Client from "../../src/client/Client.ts"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { text } from "../support/bytes.ts"
import { killAndWait, spawnScoped, startDaemon, supportFile } from "../support/child.ts"
import { socketPath } from "../support/tempdir.ts"

const ping = (path: string) => Effect.map(Client.request(path, "ping"), text)

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
      assert.include(["PktLineError", "TransportError"], error._tag)
      assert.isBelow(received, 1000 * 80)
      // The dead daemon's socket is still there; a new one takes over.
      assert.isTrue(fs.lstatSync(path).isSocket())
      yield* Server.make(path, TestApplication.handler)
      assert.strictEqual(yield* ping(path), "pong")
    }), 30_000)
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
