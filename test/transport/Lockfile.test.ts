/**
 * The startup lock at `<path>.lock`: one held by a live starter makes a
 * start fail as Git's does and is left alone; one whose starter is gone,
 * or that is older than staleAfter, is broken; something at the lock path
 * that is not a lock file is never removed or followed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Client from "../../src/client/Client.ts"
import * as Server from "../../src/server/Server.ts"
import * as Lockfile from "../../src/transport/Lockfile.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { text } from "../support/bytes.ts"
import { killAndWait, startLockHolder } from "../support/child.ts"
import { deadPid, NO_SUCH_PID, startTimeOf } from "../support/processes.ts"
import { socketPath } from "../support/tempdir.ts"

const ping = (path: string) => Effect.map(Client.request(path, "ping"), text)

describe("a lock held or left behind", () => {
  it.live("a fresh lock file held by another starter makes startup fail after the timeout, and is left alone", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      fs.writeFileSync(`${path}.lock`, "someone else\n")
      const started = Date.now()
      const error = yield* Effect.flip(Effect.scoped(Server.make(path, TestApplication.handler)))
      const waited = Date.now() - started
      assert.strictEqual(error._tag, "LockError")
      assert.strictEqual((error as { reason: string }).reason, "Held")
      // Worded as Git words it.
      assert.isTrue(error.message.startsWith(`could not start server on: '${path}': File exists`), error.message)
      assert.isAtLeast(waited, 90)
      assert.strictEqual(fs.readFileSync(`${path}.lock`, "utf8"), "someone else\n")
      assert.isFalse(fs.existsSync(path))
    }))

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
})

/** Takes the lock at `lock`, where only an owner that is gone makes a lock stale (never its age). */
const acquireIgnoringAge = (lock: string) =>
  Effect.scoped(Lockfile.acquire(lock, { staleAfter: Duration.infinity }))

describe("the owner record on disk", () => {
  it.live("a starter writes its pid, its start time and when it took the lock, a line each", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const before = Date.now()
      const holder = yield* startLockHolder(`${path}.lock`)
      const record = /^(\d+)\n(\d+)\n(\d+)\n$/.exec(fs.readFileSync(`${path}.lock`, "latin1"))
      assert.isNotNull(record)
      assert.strictEqual(Number(record![1]), holder.pid)
      assert.strictEqual(record![2], startTimeOf(holder.pid!))
      assert.isAtLeast(Number(record![3]), before)
      assert.isAtMost(Number(record![3]), Date.now())
    }))

  it.live("a record of a process that is gone, as fixed bytes, is read and the lock broken", () =>
    Effect.gen(function*() {
      const lock = `${yield* socketPath()}.lock`
      fs.writeFileSync(lock, `${NO_SUCH_PID}\n8765432\n1700000000000\n`)
      yield* acquireIgnoringAge(lock)
      assert.isFalse(fs.existsSync(lock))
    }))

  it.live("a record of a live process with its start time is held; with another start time, its pid was reused", () =>
    Effect.gen(function*() {
      const lock = `${yield* socketPath()}.lock`
      const held = `${process.pid}\n${startTimeOf(process.pid)}\n1700000000000\n`
      fs.writeFileSync(lock, held)
      const error = yield* Effect.flip(acquireIgnoringAge(lock))
      assert.strictEqual(error.reason, "Held")
      assert.strictEqual(error.owner, process.pid)
      assert.strictEqual(fs.readFileSync(lock, "latin1"), held)

      // Started one clock tick after boot: not this process.
      fs.writeFileSync(lock, `${process.pid}\n1\n1700000000000\n`)
      yield* acquireIgnoringAge(lock)
      assert.isFalse(fs.existsSync(lock))
    }))

  it.live("the first version's record (pid and time taken, no start time) reads as a lock long stale", () =>
    Effect.gen(function*() {
      const lock = `${yield* socketPath()}.lock`
      fs.writeFileSync(lock, `${process.pid}\n${Date.now()}\n`)
      yield* Effect.scoped(Lockfile.acquire(lock))
      assert.isFalse(fs.existsSync(lock))
    }))

  for (
    const [what, contents] of [
      ["a pid that is not a decimal number", `${NO_SUCH_PID}x\n8765432\n1700000000000\n`],
      ["a start time that is not a decimal number", `${NO_SUCH_PID}\n87a\n1700000000000\n`],
      ["pid 0", `0\n8765432\n1700000000000\n`]
    ] as const
  ) {
    it.live(`a record with ${what} names no owner: the lock is stale only by its age`, () =>
      Effect.gen(function*() {
        const lock = `${yield* socketPath()}.lock`
        fs.writeFileSync(lock, contents)
        const error = yield* Effect.flip(acquireIgnoringAge(lock))
        assert.strictEqual(error.reason, "Held")
        assert.isUndefined(error.owner)
        assert.strictEqual(fs.readFileSync(lock, "latin1"), contents)
      }))
  }
})
