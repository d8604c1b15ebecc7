/**
 * The status answer: a fixed schema (identity, uptime, socket, connections
 * by state, the server's counters, its log file), answered without a place
 * even when every place is taken; through the library and through
 * `simple-ipc status`, as text and as JSON.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Option, Schema } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Client from "../../src/client/Client.ts"
import * as Control from "../../src/client/Control.ts"
import * as Server from "../../src/server/Server.ts"
import { waitUntil } from "../support/raw.ts"
import { socketPath, tempDir } from "../support/tempdir.ts"
import { awaitListening, cli, cliInBackground, lines } from "../cli/harness.ts"
import { statusRequest } from "./support.ts"

/** The command line's daemon declares the package's version. */
const version: string = JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version

describe("status through the library", () => {
  it.live("load by state while every place is taken, then the counters once it has served", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      const release = yield* Deferred.make<void>()
      const before = Date.now()
      // One place; `hold` keeps it until released.
      yield* Server.make(path, (request, reply) => {
        const command = Buffer.from(request).toString()
        return command === "hold" ? Effect.andThen(Deferred.await(release), reply("held")) : reply(`echo ${command}`)
      }, {
        threads: 1,
        identity: { name: "holder", version: "1.0.0", protocol: "p1" },
        status: { logPath: "/var/log/holder.log" }
      })

      const idle = yield* Control.status(path)
      assert.deepStrictEqual(idle.connections, { open: 0, reading: 0, queued: 0, running: 0 })
      assert.strictEqual(idle.pid, process.pid)
      assert.strictEqual(idle.socket, path)
      assert.strictEqual(idle.logPath, "/var/log/holder.log")
      assert.deepStrictEqual(
        { ...idle.identity!, startedAt: 0 },
        { name: "holder", version: "1.0.0", protocol: "p1", pid: process.pid, startedAt: 0 }
      )
      assert.isAtLeast(idle.identity!.startedAt, before)
      assert.isAtLeast(idle.uptimeMillis, 0)
      assert.isAtMost(idle.uptimeMillis, Date.now() - before)

      // One request holds the place, a second waits for it: status still answers, and says so.
      const first = yield* Effect.forkChild(Client.request(path, "hold"))
      const second = yield* Effect.forkChild(Client.request(path, "hold"))
      yield* waitUntil(Effect.map(Control.status(path), (s) => s.connections.running === 1 && s.connections.queued === 1))
      const busy = yield* Control.status(path)
      assert.deepStrictEqual(busy.connections, { open: 2, reading: 0, queued: 1, running: 1 })

      yield* Deferred.succeed(release, undefined)
      assert.strictEqual(Buffer.from(yield* Fiber.join(first)).toString(), "held")
      assert.strictEqual(Buffer.from(yield* Fiber.join(second)).toString(), "held")
      // A probe (connect, hang up) is a drop, counted by reason.
      assert.strictEqual(yield* Client.activeState(path), "Listening")
      yield* waitUntil(Effect.map(Control.status(path), (s) => s.counters.droppedByReason["probe"] === 1))

      const after = yield* Control.status(path)
      assert.deepStrictEqual(after.connections, { open: 0, reading: 0, queued: 0, running: 0 })
      // Two holds and the status requests before this one; "hold" is 4 bytes in, "held" 4 out, each.
      assert.strictEqual(after.counters.dropped, 1)
      assert.isAtLeast(after.counters.served, 2 + 3)
      // This status request is accepted and not yet served (the one before it may not be counted served yet).
      assert.isAtLeast(after.counters.accepted, after.counters.served + after.counters.dropped + 1)
      assert.isAtLeast(after.counters.bytesIn, 8)
      assert.isAtLeast(after.counters.bytesOut, 8)
      // The JSON on the wire is the schema's encoding.
      const wire = Buffer.from(yield* Client.request(path, statusRequest)).toString()
      assert.isTrue(Option.isSome(Schema.decodeUnknownOption(Schema.fromJsonString(Control.Status))(wire)))
    }))

  it.live("a server asked for status but no identity answers status with a null identity", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* Server.make(path, (_, reply) => reply("x"), { status: true })
      const status = yield* Control.status(path)
      assert.isNull(status.identity)
      assert.isNull(status.logPath)
      assert.isTrue(Option.isNone(yield* Control.identity(path)))
    }))
})

describe("simple-ipc status", () => {
  it.live("prints the status of a run-daemon as text, and as one line of JSON with --json", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = nodePath.join(dir, "ipc")
      const daemon = yield* cliInBackground(["run-daemon", `--name=${path}`])
      yield* awaitListening(path)
      const ping = yield* cli(["send", `--name=${path}`, "--token=ping"])
      assert.strictEqual(ping.stdout.toString(), "pong\n")

      const text = yield* cli(["status", `--name=${path}`])
      assert.strictEqual(text.code, 0, text.stderr)
      const fields = Object.fromEntries(lines(text).map((line) => {
        const [, field, value] = /^([^:]+):\s+(.*)$/.exec(line)!
        return [field, value]
      }))
      assert.deepStrictEqual(Object.keys(fields), [
        "identity",
        "pid",
        "socket",
        "started",
        "uptime",
        "connections",
        "accepted",
        "served",
        "dropped",
        "bytes in",
        "bytes out",
        "log"
      ])
      assert.strictEqual(fields["identity"], `simple-ipc run-daemon ${version} (protocol git-test-application, pid ${daemon.child.pid})`)
      assert.strictEqual(fields["pid"], String(daemon.child.pid))
      assert.strictEqual(fields["socket"], path)
      assert.strictEqual(fields["connections"], "0 open: 0 reading, 0 queued, 0 running")
      assert.match(fields["uptime"]!, /^\d+\.\d s$/)
      assert.strictEqual(fields["log"], "-")
      // The ping was served; the command line's own probes (is-active) were dropped as probes.
      assert.isAtLeast(Number(fields["served"]), 1)
      assert.match(fields["dropped"]!, /^\d+ \(probe \d+\)$/)

      const json = yield* cli(["status", `--name=${path}`, "--json"])
      assert.strictEqual(json.code, 0, json.stderr)
      assert.strictEqual(lines(json).length, 1)
      const status = Schema.decodeUnknownSync(Schema.fromJsonString(Control.Status))(lines(json)[0]!)
      assert.strictEqual(status.socket, path)
      assert.strictEqual(status.pid, daemon.child.pid)
      assert.strictEqual(status.identity?.name, "simple-ipc run-daemon")
      assert.strictEqual(status.identity?.version, version)
      // The previous status request is counted as served by now.
      assert.isAtLeast(status.counters.served, Number(fields["served"]) + 1)
      assert.isAtLeast(status.counters.bytesIn, 4)
      assert.isAtLeast(status.counters.bytesOut, 4)

      // Git's test application answers as ever.
      const stop = yield* cli(["stop-daemon", `--name=${path}`])
      assert.strictEqual(stop.code, 0, stop.stderr)
    }))

  it.live("a path nobody listens at, and a server without status, fail with a message and exit 1", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = nodePath.join(dir, "ipc")
      const none = yield* cli(["status", `--name=${path}`])
      assert.strictEqual(none.code, 1)
      assert.strictEqual(none.stderr, `error: no server listening at '${path}'\n`)
      assert.strictEqual(none.stdout.length, 0)

      yield* Server.make(path, (request, reply) => reply(Buffer.concat([Buffer.from("app:"), request])))
      const unsupported = yield* cli(["status", `--name=${path}`, "--json"])
      assert.strictEqual(unsupported.code, 1)
      assert.include(unsupported.stderr, `error: the server at '${path}' does not answer status requests`)
      assert.strictEqual(unsupported.stdout.length, 0)
    }))

  it.live("status --help describes it and lists --name and --json", () =>
    Effect.gen(function*() {
      const run = yield* cli(["status", "--help"])
      assert.strictEqual(run.code, 0)
      const help = run.stdout.toString()
      assert.include(help, "simple-ipc status")
      assert.match(help, /^\s+--name /m)
      assert.match(help, /^\s+--json /m)
      assert.notMatch(help, /^\s+--threads /m)
      const tool = (yield* cli(["--help"])).stdout.toString()
      assert.match(tool, /^\s+status\s+What the server at --name says about itself$/m)
    }))
})
