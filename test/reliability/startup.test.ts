/**
 * Start-up attacked: another user racing for the socket before it is
 * private, starters killed at every step, and files of other users or of
 * live starters, which are never taken or removed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as nodePath from "node:path"
import * as Client from "../../src/client/Client.ts"
import { phases } from "../../src/internal/StartupPhase.ts"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { text } from "../support/bytes.ts"
import { exitOf, killAndWait, spawnScoped, supportFile } from "../support/child.ts"
import { deadPid, procStatOf } from "../support/processes.ts"
import { listening } from "../support/probe.ts"
import { reachableCopy, reachableNode } from "../support/otherUser.ts"
import { waitUntil } from "../support/raw.ts"
import { socketPath, tempDir } from "../support/tempdir.ts"

/** The user the attacks run as (CI runs the suite as root, which may take any uid). */
const OTHER_UID = 65534

const ping = (path: string) => Effect.map(Client.request(path, "ping"), text)

/** The lines a child writes on stdout, as they come. */
const linesOf = (child: ChildProcess): Array<string> => {
  const lines: Array<string> = []
  let rest = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    const parts = (rest + chunk).split("\n")
    rest = parts.pop()!
    lines.push(...parts)
  })
  return lines
}

/** Spawns `node args` as another user for the life of the scope. */
const spawnAs = (uid: number, args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.sync(() => spawn(reachableNode(), args, { uid, gid: uid, stdio: ["pipe", "pipe", "inherit"] })),
    (child) => killAndWait(child, "SIGKILL")
  )

/** Whether the process has stopped itself (state `T` in /proc/<pid>/stat); fails once it has exited. */
const isStopped = (child: ChildProcess) =>
  Effect.suspend(() => {
    if (child.exitCode !== null || child.signalCode !== null) {
      return Effect.die(new Error(`the starter exited (${child.exitCode ?? child.signalCode}) instead of stopping`))
    }
    return Effect.succeed(procStatOf(child.pid!)[0] === "T")
  })

/** A directory's entries, with the random part of our temporaries' names left out, sorted. */
const listing = (directory: string) =>
  fs.readdirSync(directory).map((name) => name.replace(/^(\.sipc-[a-z]+)-.*$/, "$1")).sort()

/** A starter (the test daemon) at `path` that stops itself at `phase` of its start-up; returns once it has. */
const starterStoppedAt = (path: string, phase: string) =>
  Effect.tap(
    spawnScoped([supportFile("daemon.ts"), path], { env: { SIMPLE_IPC_TEST_STOP_AT: phase } }),
    (starter) => waitUntil(isStopped(starter))
  )

/**
 * Start-ups in the umask test. A longer run:
 * `STARTUP_UMASK_TRIALS=2000 npx vitest run test/reliability/startup.test.ts -t umask`.
 */
const umaskTrials = Number(process.env.STARTUP_UMASK_TRIALS ?? 100)

describe("no window before the socket is private", () => {
  it.live("under umask 000, another user watching the directory never connects to a socket, before or after it is in place", () =>
    Effect.gen(function*() {
      const trials = umaskTrials
      const dir = yield* tempDir
      // The other user may watch and list the directory, as in a shared one.
      fs.chmodSync(dir, 0o755)
      const path = nodePath.join(dir, "ipc.sock")
      const snoop = yield* spawnAs(OTHER_UID, [reachableCopy(supportFile("socketSnoop.ts")), dir])
      const seen = linesOf(snoop)
      yield* waitUntil(Effect.sync(() => seen.includes("watching")))
      const starter = yield* spawnScoped([supportFile("umaskStarter.ts"), path], { stdio: "pipe" })
      const said = linesOf(starter)
      const tell = (command: string, answer: string, times: number) =>
        Effect.andThen(
          Effect.sync(() => starter.stdin!.write(`${command}\n`)),
          waitUntil(Effect.sync(() => said.filter((line) => line === answer).length === times))
        )
      const outcomes = (name: (name: string) => boolean) =>
        seen.filter((line) => line !== "watching").map((line) => line.split(" ")).filter(([, n]) => name(n!))
      const atPath = (n: string) => n === "ipc.sock"
      const inPrivateDirectory = (n: string) => n.startsWith(".sipc-sock-") && n.includes("/")

      for (let i = 1; i <= trials; i++) {
        yield* tell("start", "up", i)
        // Each server stays up until the other user has tried its socket.
        yield* waitUntil(Effect.sync(() => outcomes(atPath).filter(([outcome]) => outcome === "EACCES").length >= i))
        yield* tell("stop", "down", i)
      }
      const connected = outcomes(() => true).filter(([outcome]) => outcome === "connected")
      assert.deepStrictEqual(connected, [])
      // It did try the private directories (at the socket's predictable
      // name, and by listing them), and was kept out.
      const inside = outcomes(inPrivateDirectory)
      assert.isAbove(inside.length, 0)
      assert.isTrue(inside.every(([outcome]) => outcome === "EACCES" || outcome === "ENOENT"), JSON.stringify(inside))
      assert.isAbove(outcomes((n) => n.startsWith(".sipc-sock-")).filter(([o]) => o === "list-EACCES").length, 0)

      // The same watcher does reach a socket whose mode lets it in.
      yield* tell("start-open", "up", trials + 1)
      yield* waitUntil(Effect.sync(() => outcomes(atPath).some(([outcome]) => outcome === "connected")))
    }), Math.max(60_000, umaskTrials * 500))
})

describe("a starter killed at any step leaves nothing that blocks or piles up", () => {
  // What each step leaves when its starter is killed there (our
  // temporaries' random parts left out): all of it is cleared by the next
  // start.
  const leftBehind: Record<typeof phases[number], ReadonlyArray<string>> = {
    "lock-written": [".sipc-lock"],
    "lock-inspected": ["ipc.sock.lock"],
    "breaking": ["ipc.sock.lock", "ipc.sock.lock.break"],
    "lock-aside": [".sipc-aside", "ipc.sock.lock.break"],
    "lock-linked": [".sipc-lock", "ipc.sock.lock"],
    "locked": ["ipc.sock.lock"],
    "directory-made": [".sipc-sock", "ipc.sock.lock"],
    "bound": [".sipc-sock", "ipc.sock.lock"],
    "renamed": [".sipc-sock", "ipc.sock", "ipc.sock.lock"]
  }
  for (const phase of phases) {
    it.live(`killed at '${phase}': the next start succeeds at once, and the directory then holds only its socket`, () =>
      Effect.gen(function*() {
        const path = yield* socketPath()
        const dir = nodePath.dirname(path)
        // These steps are reached only when a lock is there; the breaker's,
        // only when it is stale.
        if (phase === "lock-inspected" || phase === "breaking" || phase === "lock-aside") {
          fs.writeFileSync(`${path}.lock`, `${yield* deadPid}\n\n${Date.now()}\n`)
        }
        const starter = yield* starterStoppedAt(path, phase)
        assert.deepStrictEqual(listing(dir), leftBehind[phase])
        yield* killAndWait(starter, "SIGKILL")

        // With the default lock timeout (100 ms): nothing left may be taken
        // for a live starter's.
        yield* Server.make(path, TestApplication.handler)
        assert.deepStrictEqual(fs.readdirSync(dir), ["ipc.sock"])
        assert.strictEqual(yield* ping(path), "pong")
      }), 30_000)
  }

  it.live("a live starter's lock and private directory are left alone, by a start at its path and at another; resumed, it starts", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const dir = nodePath.dirname(path)
      const starter = yield* starterStoppedAt(path, "bound")
      const before = fs.readdirSync(dir).sort()
      const privateDir = before.find((name) => name.startsWith(".sipc-sock-"))!
      const privateSocket = fs.readdirSync(nodePath.join(dir, privateDir))

      const held = yield* Effect.flip(Effect.scoped(Server.make(path, TestApplication.handler)))
      assert.strictEqual(held._tag, "LockError")
      assert.strictEqual((held as { reason: string }).reason, "Held")
      assert.include(held.message, `process ${starter.pid}`)

      const other = nodePath.join(dir, "other.sock")
      yield* Server.make(other, TestApplication.handler)
      assert.strictEqual(yield* ping(other), "pong")
      assert.deepStrictEqual(fs.readdirSync(dir).filter((name) => name !== "other.sock").sort(), before)
      assert.deepStrictEqual(fs.readdirSync(nodePath.join(dir, privateDir)), privateSocket)

      starter.kill("SIGCONT")
      yield* waitUntil(listening(path))
      assert.strictEqual(yield* ping(path), "pong")
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), ["ipc.sock", "other.sock"])
    }), 30_000)

  it.live("a lock let go between a starter's look at it and its reading it: that starter takes the lock and starts", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const holder = yield* starterStoppedAt(path, "bound")
      // The second starter finds the first one's lock, looks at it, and stops there.
      const second = yield* starterStoppedAt(path, "lock-inspected")
      // The first finishes its start (its lock is let go), then stops serving.
      holder.kill("SIGCONT")
      yield* waitUntil(listening(path))
      yield* Client.request(path, "quit")
      yield* exitOf(holder)
      assert.isFalse(fs.existsSync(`${path}.lock`))

      second.kill("SIGCONT")
      yield* waitUntil(Effect.suspend(() => {
        if (second.exitCode !== null) return Effect.die(new Error(`the second starter exited with ${second.exitCode}`))
        return listening(path)
      }))
      assert.strictEqual(yield* ping(path), "pong")
    }), 30_000)

  it.live("an earlier version's temporary socket, whose starter is gone, is removed too", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const dir = nodePath.dirname(path)
      fs.writeFileSync(nodePath.join(dir, `.sipc-${yield* deadPid}-0123456789ab`), "")
      yield* Server.make(path, TestApplication.handler)
      assert.deepStrictEqual(fs.readdirSync(dir), ["ipc.sock"])
    }))
})

describe("what another user owns is refused, never taken or removed", () => {
  it.live("a lock of another user naming a live process, in a shared sticky directory: a typed error that says so; the lock stays", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      fs.chmodSync(dir, 0o1777)
      const path = nodePath.join(dir, "ipc.sock")
      const lock = `${path}.lock`
      fs.writeFileSync(lock, `1\n\n${Date.now()}\n`)
      fs.chownSync(lock, OTHER_UID, OTHER_UID)
      const before = fs.lstatSync(lock)
      const error = yield* Effect.flip(Effect.scoped(Server.make(path, TestApplication.handler)))
      assert.strictEqual(error._tag, "LockError")
      assert.strictEqual((error as { reason: string }).reason, "OtherUser")
      assert.strictEqual((error as { uid?: number }).uid, OTHER_UID)
      assert.include(error.message, `could not start server on: '${path}'`)
      assert.include(error.message, `belongs to another user (uid ${OTHER_UID})`)
      assert.strictEqual(fs.lstatSync(lock).ino, before.ino)
      assert.deepStrictEqual(fs.readdirSync(dir), ["ipc.sock.lock"])
    }))

  it.live("a breaker's lock of another user keeps a stale lock from being broken: a typed error names it", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      fs.writeFileSync(`${path}.lock`, `${yield* deadPid}\n\n${Date.now()}\n`)
      const breaker = `${path}.lock.break`
      fs.writeFileSync(breaker, `1\n\n${Date.now()}\n`)
      fs.chownSync(breaker, OTHER_UID, OTHER_UID)
      const error = yield* Effect.flip(Effect.scoped(Server.make(path, TestApplication.handler)))
      assert.strictEqual(error._tag, "LockError")
      assert.strictEqual((error as { reason: string }).reason, "OtherUser")
      assert.include(error.message, `lock '${breaker}' belongs to another user (uid ${OTHER_UID})`)
      assert.deepStrictEqual(fs.readdirSync(nodePath.dirname(path)).sort(), ["ipc.sock.lock", "ipc.sock.lock.break"])
    }))

  it.live("another user's temporaries are never swept, even when the process they name is gone", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const dir = nodePath.dirname(path)
      const theirs = nodePath.join(dir, `.sipc-sock-${yield* deadPid}--AbCdEf`)
      fs.mkdirSync(theirs)
      fs.chownSync(theirs, OTHER_UID, OTHER_UID)
      yield* Server.make(path, TestApplication.handler)
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), [nodePath.basename(theirs), "ipc.sock"])
    }))

  it.live("a socket directory of another user is refused before anything is made in it", () =>
    Effect.gen(function*() {
      const dir = nodePath.join(yield* tempDir, "theirs")
      fs.mkdirSync(dir)
      fs.chownSync(dir, OTHER_UID, OTHER_UID)
      const path = nodePath.join(dir, "ipc.sock")
      const error = yield* Effect.flip(Effect.scoped(Server.make(path, TestApplication.handler)))
      assert.strictEqual(error._tag, "ListenError")
      assert.strictEqual((error as { reason: string }).reason, "OtherUser")
      assert.include(error.message, `its directory '${dir}' belongs to another user (uid ${OTHER_UID})`)
      assert.deepStrictEqual(fs.readdirSync(dir), [])
    }))

  it.live("a socket of another user at the path is refused and left in place", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const theirs = yield* Effect.acquireRelease(
        Effect.callback<net.Server>((resume) => {
          const server = net.createServer()
          server.listen(path, () => resume(Effect.succeed(server)))
        }),
        (server) => Effect.sync(() => server.close())
      )
      fs.chownSync(path, OTHER_UID, OTHER_UID)
      const before = fs.lstatSync(path)
      const error = yield* Effect.flip(Effect.scoped(Server.make(path, TestApplication.handler)))
      assert.strictEqual(error._tag, "ListenError")
      assert.strictEqual((error as { reason: string }).reason, "OtherUser")
      assert.include(error.message, `the socket there belongs to another user (uid ${OTHER_UID})`)
      assert.strictEqual(fs.lstatSync(path).ino, before.ino)
      assert.isTrue(theirs.listening)
    }))
})
