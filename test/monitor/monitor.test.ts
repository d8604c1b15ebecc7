/**
 * The file-change monitor example: a daemon that watches a tree and
 * answers "what changed since token T", an effect/rpc service over Simple IPC.
 *
 * Every scenario waits on the monitor's own answer (polled until it shows
 * the last change made) before asserting, never on a fixed delay. Each
 * scenario ends with a single-event change (a delete or a rename): the
 * kernel queues a watch's events in order, so once the monitor has seen
 * the last one it has seen all those before.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Layer } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"
import * as Daemon from "../../examples/monitor/Daemon.ts"
import * as MonitorClient from "../../examples/monitor/MonitorClient.ts"
import * as Client from "../../src/client/Client.ts"
import { exitOf, nodeBinary, spawnScoped } from "../support/child.ts"
import { waitUntil } from "../support/raw.ts"
import { tempDir } from "../support/tempdir.ts"
import { listening } from "../support/probe.ts"

const main = fileURLToPath(new URL("../../examples/monitor/main.ts", import.meta.url))

/** A tree with a few files, watched by a monitor daemon in this scope. */
const monitored = Effect.gen(function*() {
  const dir = yield* tempDir
  const root = nodePath.join(dir, "tree")
  const socket = nodePath.join(dir, "monitor.sock")
  fs.mkdirSync(nodePath.join(root, "old"), { recursive: true })
  for (const name of ["keep.txt", "modify.txt", "delete.txt", "old/inner.txt"]) {
    fs.writeFileSync(nodePath.join(root, name), `${name}\n`)
  }
  yield* Layer.build(Daemon.layer(root, socket))
  const client = MonitorClient.make(Client.make(socket))
  const file = (name: string) => nodePath.join(root, name)
  return { root, socket, client, file }
})

type Monitored = Effect.Success<typeof monitored>

/** Waits until the changes since `token` include `last`, then returns them. */
const changesUntil = ({ client }: Monitored, token: string, last: string) =>
  Effect.andThen(
    waitUntil(Effect.map(client.changes({ since: token }), (answer) => answer.paths.includes(last))),
    client.changes({ since: token })
  )

/** The first token, from a query with a token no monitor issued. */
const firstToken = (m: Monitored) =>
  Effect.gen(function*() {
    const answer = yield* m.client.changes({ since: "0" })
    assert.isTrue(answer.fullRescan)
    assert.deepStrictEqual(answer.paths, [])
    return answer.token
  })

/** Asserts that nothing changed since `token`. */
const nothingSince = (m: Monitored, token: string) =>
  Effect.map(m.client.changes({ since: token }), (answer) => {
    assert.deepStrictEqual(answer, { token, fullRescan: false, paths: [] })
  })

describe("the monitor daemon", () => {
  it.live("created, modified and deleted files, in the root and below, are exactly the paths since the previous token", () =>
    Effect.gen(function*() {
      const m = yield* monitored
      const t0 = yield* firstToken(m)
      yield* nothingSince(m, t0)

      fs.writeFileSync(m.file("created.txt"), "new\n")
      fs.appendFileSync(m.file("modify.txt"), "more\n")
      fs.writeFileSync(m.file("old/inner.txt"), "changed\n")
      fs.mkdirSync(m.file("sub"))
      fs.writeFileSync(m.file("sub/deep.txt"), "deep\n")
      fs.unlinkSync(m.file("delete.txt"))

      const answer = yield* changesUntil(m, t0, "delete.txt")
      assert.isFalse(answer.fullRescan)
      assert.deepStrictEqual(answer.paths, ["created.txt", "delete.txt", "modify.txt", "old/inner.txt", "sub", "sub/deep.txt"])
      assert.notStrictEqual(answer.token, t0)
      yield* nothingSince(m, answer.token)

      // The previous token still answers for everything since it.
      fs.unlinkSync(m.file("keep.txt"))
      const next = yield* changesUntil(m, answer.token, "keep.txt")
      assert.deepStrictEqual(next.paths, ["keep.txt"])
      const all = yield* m.client.changes({ since: t0 })
      assert.deepStrictEqual(all.paths, [...answer.paths, "keep.txt"].sort())
      yield* nothingSince(m, next.token)
    }))

  it.live("a renamed directory reports both names and what it holds; a removed one, what it held", () =>
    Effect.gen(function*() {
      const m = yield* monitored
      const t0 = yield* firstToken(m)

      fs.renameSync(m.file("old"), m.file("moved"))
      const renamed = yield* changesUntil(m, t0, "moved/inner.txt")
      assert.deepStrictEqual(renamed.paths, ["moved", "moved/inner.txt", "old"])
      yield* nothingSince(m, renamed.token)

      // The moved directory is watched under its new name.
      fs.writeFileSync(m.file("moved/inner.txt"), "changed\n")
      fs.renameSync(m.file("moved/inner.txt"), m.file("moved/renamed.txt"))
      const inside = yield* changesUntil(m, renamed.token, "moved/renamed.txt")
      assert.deepStrictEqual(inside.paths, ["moved/inner.txt", "moved/renamed.txt"])

      fs.rmSync(m.file("moved"), { recursive: true })
      const removed = yield* changesUntil(m, inside.token, "moved")
      assert.deepStrictEqual(removed.paths, ["moved", "moved/renamed.txt"])
      yield* nothingSince(m, removed.token)
    }))

  it.live("an unknown token, or one from an earlier daemon, gets the full-rescan flag and a usable token", () =>
    Effect.gen(function*() {
      const m = yield* monitored
      const t0 = yield* firstToken(m)
      const [instance] = t0.split(":")
      for (const token of ["", "0", "not a token", "0123456789ab:0", `${instance}:1000000`]) {
        const answer = yield* m.client.changes({ since: token })
        assert.isTrue(answer.fullRescan, token)
        assert.deepStrictEqual(answer.paths, [])
        yield* nothingSince(m, answer.token)
      }
    }))
})

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** Runs the example's command line to completion. */
const cli = (...args: ReadonlyArray<string>) =>
  Effect.callback<Run>((resume) => {
    const child = execFile(nodeBinary, [main, ...args], (error, stdout, stderr) =>
      resume(Effect.succeed({ code: error === null ? 0 : Number(error.code ?? 1), stdout, stderr })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })


describe("the monitor's command line", () => {
  it.live("serve, changes (token, then paths; `/` for a full rescan), stop", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const root = nodePath.join(dir, "tree")
      const socket = nodePath.join(dir, "monitor.sock")
      fs.mkdirSync(root)
      fs.writeFileSync(nodePath.join(root, "bye.txt"), "bye\n")
      const daemon = yield* spawnScoped([main, "serve", root, socket])
      yield* waitUntil(listening(socket))

      const first = yield* cli("changes", socket, "0")
      assert.strictEqual(first.code, 0, first.stderr)
      const [token, ...rescan] = first.stdout.trimEnd().split("\n")
      assert.deepStrictEqual(rescan, ["/"])

      fs.writeFileSync(nodePath.join(root, "hello.txt"), "hello\n")
      fs.unlinkSync(nodePath.join(root, "bye.txt"))
      const client = MonitorClient.make(Client.make(socket))
      yield* waitUntil(Effect.map(client.changes({ since: token! }), (answer) => answer.paths.includes("bye.txt")))
      const second = yield* cli("changes", socket, token!)
      assert.strictEqual(second.code, 0, second.stderr)
      const [next, ...paths] = second.stdout.trimEnd().split("\n")
      assert.deepStrictEqual(paths, ["bye.txt", "hello.txt"])
      assert.strictEqual((yield* cli("changes", socket, next!)).stdout, `${next}\n`)

      const stop = yield* cli("stop", socket)
      assert.strictEqual(stop.code, 0, stop.stderr)
      assert.deepStrictEqual(yield* Effect.timeout(exitOf(daemon), Duration.seconds(10)), { code: 0, signal: null })
      assert.isFalse(fs.existsSync(socket))
    }), 60_000)

  it.live("changes --start=<root> starts a daemon when none runs; without it, no daemon is an error", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const root = nodePath.join(dir, "tree")
      const socket = nodePath.join(dir, "monitor.sock")
      fs.mkdirSync(root)
      // The daemon started here is detached: stop it whatever happens.
      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          if (!(yield* listening(socket))) return
          yield* MonitorClient.make(Client.make(socket)).stop()
          yield* waitUntil(Effect.map(listening(socket), (up) => !up))
        }).pipe(Effect.orDie)
      )

      const refused = yield* cli("changes", socket, "0")
      assert.strictEqual(refused.code, 1)
      assert.include(refused.stderr, "error: ")
      assert.include(refused.stderr, socket)

      const started = yield* cli("changes", socket, "0", `--start=${root}`)
      assert.strictEqual(started.code, 0, started.stderr)
      assert.match(started.stdout, /^[0-9a-f]+:\d+\n\/\n$/)
      assert.isTrue(yield* listening(socket))
    }), 60_000)

  it.live("a usage error prints the usage", () =>
    Effect.gen(function*() {
      const run = yield* cli("changes")
      assert.strictEqual(run.code, 129)
      assert.include(run.stderr, "usage: main.ts serve <root> <socket>")
    }), 30_000)
})
