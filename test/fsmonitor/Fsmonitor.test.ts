/**
 * The client against our own server side: queries across many packets,
 * the journal's rule that a token it cannot vouch for gets the trivial
 * answer, flush and stop, the changes Stream (driven by the caller, on a
 * schedule, interrupted), and typed errors for every way a daemon fails.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Duration, Effect, Fiber, Queue, Schedule, Stream } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Fsmonitor from "../../src/fsmonitor/Fsmonitor.ts"
import * as PktLine from "../../src/framing/PktLine.ts"
import * as Server from "../../src/server/Server.ts"
import { bytes } from "../support/bytes.ts"
import { fakeServer, waitUntil } from "../support/raw.ts"
import { socketPath, tempDir } from "../support/tempdir.ts"

/** Our server side at a fresh socket, for the test's scope. */
const daemon = (options?: Fsmonitor.JournalOptions) =>
  Effect.gen(function*() {
    const path = yield* socketPath("fsmonitor--daemon.ipc")
    const journal = Fsmonitor.makeJournal(options)
    const server = yield* Server.make(path, Fsmonitor.handler(journal))
    return { path, journal, server }
  })

describe("the journal", () => {
  it.effect("vouches only for its own tokens, from its past and within what it kept", () =>
    Effect.gen(function*() {
      const journal = Fsmonitor.makeJournal({ makeId: (n) => `id${n}`, maxBatches: 2 })
      const start = yield* journal.token
      assert.strictEqual(start, "builtin:id0:0")
      yield* journal.record(["a"])
      yield* journal.record(["b", "a"])
      assert.deepStrictEqual(yield* journal.answer(start), Fsmonitor.changed("builtin:id0:2", ["a", "b"]))
      assert.deepStrictEqual(yield* journal.answer("builtin:id0:1"), Fsmonitor.changed("builtin:id0:2", ["b", "a"]))
      assert.deepStrictEqual(yield* journal.answer("builtin:id0:2"), Fsmonitor.changed("builtin:id0:2", []))
      for (const stranger of ["builtin:id0:3", "builtin:other:1", "mine:id0:1", "builtin:fake", "1796015155030159514", "builtin:id0:x", ""]) {
        assert.deepStrictEqual(yield* journal.answer(stranger), Fsmonitor.trivial("builtin:id0:2"), stranger)
      }
      // A third batch drops the first: a client from before it may have missed it.
      yield* journal.record(["c"])
      assert.deepStrictEqual(yield* journal.answer(start), Fsmonitor.trivial("builtin:id0:3"))
      assert.deepStrictEqual(yield* journal.answer("builtin:id0:1"), Fsmonitor.changed("builtin:id0:3", ["b", "a", "c"]))
      assert.strictEqual(yield* journal.reset, "builtin:id1:0")
      assert.deepStrictEqual(yield* journal.answer("builtin:id0:3"), Fsmonitor.trivial("builtin:id1:0"))
    }))

  it.effect("refuses a path it could not answer with, and records nothing of that batch", () =>
    Effect.gen(function*() {
      const journal = Fsmonitor.makeJournal({ makeId: () => "id" })
      for (const bad of ["", "/abs", "a\0b"]) {
        const error = yield* Effect.flip(journal.record(["ok", bad]))
        assert.strictEqual(error.reason, "InvalidPath")
        assert.include(error.message, "is not a worktree-relative path")
      }
      assert.strictEqual(yield* journal.token, "builtin:id:0")
      yield* journal.record([])
      assert.strictEqual(yield* journal.token, "builtin:id:0")
    }))
})

describe("the client against our server side", () => {
  it.live("asks, is told what changed since its token, and follows the tokens", () =>
    Effect.gen(function*() {
      const { path, journal } = yield* daemon()
      const first = yield* Fsmonitor.query(path, Fsmonitor.unknownToken)
      assert.strictEqual(first._tag, "Trivial")
      yield* journal.record(["src/a.ts", "build/"])
      const second = yield* Fsmonitor.query(path, first.token)
      assert.deepStrictEqual(second, Fsmonitor.changed(yield* journal.token, ["src/a.ts", "build/"]))
      assert.deepStrictEqual(yield* Fsmonitor.query(path, second.token), Fsmonitor.changed(second.token, []))
    }))

  it.live("carries thousands of long paths across many packets", () =>
    Effect.gen(function*() {
      const { path, journal } = yield* daemon()
      const paths = Array.from({ length: 5000 }, (_, i) => `deep/${"x".repeat(i % 200)}/file-${i}.txt`)
      yield* journal.record(paths)
      const answer = yield* Fsmonitor.query(path, "builtin:fake")
      assert.strictEqual(answer._tag, "Trivial")
      const all = yield* Fsmonitor.query(path, (yield* journal.token).replace(/:\d+$/, ":0"))
      assert.deepStrictEqual(all, Fsmonitor.changed(yield* journal.token, paths))
    }))

  it.live("flush starts a new token id; the old token then gets the trivial answer", () =>
    Effect.gen(function*() {
      const { path, journal } = yield* daemon()
      yield* journal.record(["a"])
      const before = yield* journal.token
      const flushed = yield* Fsmonitor.flush(path)
      assert.strictEqual(flushed._tag, "Trivial")
      assert.notStrictEqual(flushed.token, before)
      assert.deepStrictEqual(yield* Fsmonitor.query(path, before), Fsmonitor.trivial(flushed.token))
    }))

  it.live("a synchronise step that says the journal is behind makes every answer trivial", () =>
    Effect.gen(function*() {
      const path = yield* socketPath("fsmonitor--daemon.ipc")
      const journal = Fsmonitor.makeJournal()
      let synced = false
      yield* Server.make(path, Fsmonitor.handler(journal, { synchronise: Effect.sync(() => synced) }))
      const token = yield* journal.token
      assert.deepStrictEqual(yield* Fsmonitor.query(path, token), Fsmonitor.trivial(token))
      synced = true
      assert.deepStrictEqual(yield* Fsmonitor.query(path, token), Fsmonitor.changed(token, []))
    }))

  it.live("stop sends quit and returns once the daemon no longer listens; the socket is gone", () =>
    Effect.gen(function*() {
      const { path, server } = yield* daemon()
      assert.isTrue(yield* Fsmonitor.isRunning(path))
      yield* Fsmonitor.stop(path)
      assert.isFalse(yield* Fsmonitor.isRunning(path))
      assert.isFalse(fs.existsSync(path))
      yield* server.join
    }))

  it.live("stop fails with StopTimedOut when the daemon keeps listening", () =>
    Effect.gen(function*() {
      const path = yield* socketPath("fsmonitor--daemon.ipc")
      yield* fakeServer(path, bytes("0000"))
      const error = yield* Effect.flip(Fsmonitor.stop(path, { timeout: Duration.millis(200) }))
      assert.strictEqual(error.reason, "StopTimedOut")
      assert.include(error.message, "still listens")
    }))
})

describe("errors", () => {
  it.live("no daemon: NotRunning, for query, flush and stop", () =>
    Effect.gen(function*() {
      const path = yield* socketPath("fsmonitor--daemon.ipc")
      for (const attempt of [Fsmonitor.query(path, "builtin:fake"), Fsmonitor.flush(path), Fsmonitor.stop(path)]) {
        const error = yield* Effect.flip(attempt)
        assert.strictEqual(error._tag, "FsmonitorError")
        assert.strictEqual(error.reason, "NotRunning")
        assert.include(error.message, path)
        assert.strictEqual((error.cause as { _tag: string })._tag, "ConnectError")
      }
    }))

  it.live("a path that is no socket: Unreachable", () =>
    Effect.gen(function*() {
      const path = nodePath.join(yield* tempDir, "fsmonitor--daemon.ipc")
      fs.writeFileSync(path, "")
      const error = yield* Effect.flip(Fsmonitor.query(path, "builtin:fake"))
      assert.strictEqual(error.reason, "Unreachable")
    }))

  it.live("an answer without its final flush: Incomplete, never a shorter list", () =>
    Effect.gen(function*() {
      const path = yield* socketPath("fsmonitor--daemon.ipc")
      yield* fakeServer(path, bytes("000at:1:1\x000008a\x00b\x00"))
      const error = yield* Effect.flip(Fsmonitor.query(path, "t:1:0"))
      assert.strictEqual(error.reason, "Incomplete")
      assert.strictEqual((error.cause as { _tag: string })._tag, "PktLineError")
    }))

  it.live("a whole answer that is malformed: its fault, never a list", () =>
    Effect.gen(function*() {
      const path = yield* socketPath("fsmonitor--daemon.ipc")
      yield* fakeServer(path, PktLine.encodeMessageBytes(bytes("t:1:1\x00a\x00\x00b\x00")))
      const error = yield* Effect.flip(Fsmonitor.query(path, "t:1:0"))
      assert.strictEqual(error.reason, "EmptyPath")
    }))

  it.live("an answer that is not pkt-line: RequestFailed, with the framing error", () =>
    Effect.gen(function*() {
      const path = yield* socketPath("fsmonitor--daemon.ipc")
      yield* fakeServer(path, bytes("zzzz"))
      const error = yield* Effect.flip(Fsmonitor.query(path, "t:1:0"))
      assert.strictEqual(error.reason, "RequestFailed")
    }))

  it.live("a daemon that never answers: the query's timeout", () =>
    Effect.gen(function*() {
      const path = yield* socketPath("fsmonitor--daemon.ipc")
      // A short grace period: the test's end need not wait for a handler that never ends.
      yield* Server.make(path, () => Effect.never, { gracePeriod: Duration.millis(10) })
      const error = yield* Effect.flip(Fsmonitor.query(path, "t:1:0", { timeout: Duration.millis(100) }))
      assert.strictEqual(error.reason, "RequestFailed")
      assert.strictEqual((error.cause as { _tag: string })._tag, "RequestTimeoutError")
    }))
})

describe("the changes Stream", () => {
  it.live("driven by the caller: a rescan first, then each batch, and a rescan after a flush", () =>
    Effect.gen(function*() {
      const { path, journal } = yield* daemon({ makeId: (n) => `id${n}` })
      const steps: ReadonlyArray<Effect.Effect<unknown, Fsmonitor.FsmonitorError>> = [
        journal.record(["a"]),
        journal.record(["b", "c/"]),
        Effect.void, // nothing changed: nothing emitted
        journal.reset,
        journal.record(["d"])
      ]
      const trigger = Stream.mapEffect(Stream.fromIterable(steps), (step) => step)
      const seen = yield* Stream.runCollect(Fsmonitor.changes(path, { trigger }))
      assert.deepStrictEqual(seen, [
        { _tag: "Rescan", token: "builtin:id0:1" },
        { _tag: "Changed", token: "builtin:id0:2", paths: ["b", "c/"] },
        { _tag: "Rescan", token: "builtin:id1:0" },
        { _tag: "Changed", token: "builtin:id1:1", paths: ["d"] }
      ])
    }))

  it.live("on a schedule, from a given token: a query at once, then one per tick", () =>
    Effect.gen(function*() {
      const { path, journal } = yield* daemon()
      const since = yield* journal.token
      yield* journal.record(["first"])
      const seen = yield* Queue.unbounded<Fsmonitor.Change>()
      const fiber = yield* Effect.forkChild(
        Stream.runForEach(Fsmonitor.changes(path, { since, schedule: Schedule.spaced(Duration.millis(10)) }), (c) => Queue.offer(seen, c))
      )
      assert.deepStrictEqual(yield* Queue.take(seen), { _tag: "Changed", token: yield* journal.token, paths: ["first"] })
      yield* journal.record(["second"])
      assert.deepStrictEqual(yield* Queue.take(seen), { _tag: "Changed", token: yield* journal.token, paths: ["second"] })
      yield* Fiber.interrupt(fiber)
    }))

  it.live("interrupting the stream cuts a query in flight", () =>
    Effect.gen(function*() {
      const path = yield* socketPath("fsmonitor--daemon.ipc")
      const asked = yield* Deferred.make<void>()
      yield* Server.make(path, () => Effect.andThen(Deferred.succeed(asked, undefined), Effect.never), {
        gracePeriod: Duration.millis(10)
      })
      const fiber = yield* Effect.forkChild(Stream.runDrain(Fsmonitor.changes(path)))
      yield* Deferred.await(asked)
      yield* Fiber.interrupt(fiber)
      assert.isTrue((yield* Fiber.await(fiber))._tag === "Failure")
    }))

  it.live("a daemon that goes away fails the stream with NotRunning", () =>
    Effect.gen(function*() {
      const { path, server } = yield* daemon()
      const trigger = Stream.mapEffect(Stream.make(1, 2), (n) => n === 2 ? Effect.andThen(server.stop, server.join) : Effect.void)
      const error = yield* Effect.flip(Stream.runCollect(Fsmonitor.changes(path, { trigger })))
      assert.strictEqual(error._tag === "FsmonitorError" ? error.reason : error, "NotRunning")
      yield* waitUntil(Effect.sync(() => !fs.existsSync(path)))
    }))
})
