/**
 * `run-daemon --idle-shutdown=<seconds>`: the daemon stops by itself once
 * no request has come for that long, exits 0 and removes its socket
 * (`start-daemon` passes it on to the daemon it starts); the
 * time is written as `--max-wait`'s is, and anything else is a usage
 * error that starts nothing.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Client from "../../src/client/Client.ts"
import * as Commands from "../../src/cli/Commands.ts"
import * as Options from "../../src/cli/Options.ts"
import { isGone } from "../support/processes.ts"
import { waitUntil } from "../support/raw.ts"
import { tempDir } from "../support/tempdir.ts"
import { awaitListening, cli, cliInBackground, daemonsOf, reapDaemons } from "./harness.ts"

/** The options `simple-ipc <args>` runs with; fails the test when they are not valid. */
const optionsOf = (...args: ReadonlyArray<string>): Options.Options => {
  const invocation = Options.parse(args, Commands.subcommands)
  assert.strictEqual(invocation._tag, "Run", JSON.stringify(invocation))
  return (invocation as Extract<typeof invocation, { readonly _tag: "Run" }>).options
}

describe("--idle-shutdown", () => {
  it("is 0 (never) unless given, whole seconds like --max-wait, and below 0 counts as 0", () => {
    assert.strictEqual(optionsOf("run-daemon").idleShutdown, 0)
    assert.strictEqual(optionsOf("run-daemon", "--idle-shutdown=600").idleShutdown, 600)
    assert.strictEqual(optionsOf("run-daemon", "--idle-shutdown", "5").idleShutdown, 5)
    assert.strictEqual(optionsOf("run-daemon", "--idle-shutdown=-3").idleShutdown, 0)
    assert.strictEqual(optionsOf("run-daemon", "--idle-shutdown=+7").idleShutdown, 7)
  })

  it.live("a run-daemon left idle stops by itself: exit 0, its socket removed", () =>
    Effect.gen(function*() {
      const path = nodePath.join(yield* tempDir, "ipc")
      const idleSeconds = 2
      const spawnedAt = performance.now()
      // Killed when the test's scope closes, should it still be running.
      const daemon = yield* cliInBackground(["run-daemon", `--name=${path}`, `--idle-shutdown=${idleSeconds}`])
      yield* awaitListening(path)

      yield* waitUntil(Effect.sync(() => !fs.existsSync(path)), Duration.seconds(30))
      const run = yield* daemon.done
      assert.strictEqual(run.code, 0, run.stderr)
      assert.isNull(run.signal)
      assert.isTrue(isGone(daemon.child.pid!))
      assert.include(run.stderr, `no request for ${idleSeconds}s; stopping`)
      // Its idle time counts from when it listened, after it was spawned
      // (a lower bound only, which a loaded machine cannot break).
      assert.isAtLeast(performance.now() - spawnedAt, idleSeconds * 1000 * 0.9)
      assert.deepStrictEqual(fs.readdirSync(nodePath.dirname(path)), [])
      assert.strictEqual(yield* Client.activeState(path), "NotListening")
    }), 60_000)

  it.live("start-daemon passes it on: the daemon it started in the background stops by itself", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      // Should the daemon outlive the test, it is asked to quit, then killed.
      yield* reapDaemons(dir)
      const path = nodePath.join(dir, "ipc")
      const started = yield* cli(["start-daemon", `--name=${path}`, "--idle-shutdown=1"])
      assert.strictEqual(started.code, 0, started.stderr)
      assert.strictEqual(yield* Client.activeState(path), "Listening")
      assert.lengthOf(daemonsOf(dir), 1)

      yield* waitUntil(Effect.sync(() => !fs.existsSync(path) && daemonsOf(dir).length === 0), Duration.seconds(30))
      assert.deepStrictEqual(fs.readdirSync(dir), [])
    }), 60_000)

  for (const value of ["10s", "1.5", "soon", ""]) {
    it.live(`--idle-shutdown=${value}: a usage error naming the flag and what it takes; nothing is started`, () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const run = yield* cli(["run-daemon", `--name=${nodePath.join(dir, "ipc")}`, `--idle-shutdown=${value}`])
        assert.strictEqual(run.code, 1)
        assert.strictEqual(run.stdout.length, 0)
        assert.isTrue(
          run.stderr.startsWith(`error: Invalid value for flag --idle-shutdown: "${value}". Expected an integer (seconds)\n`),
          run.stderr
        )
        // The help of run-daemon follows, with what the flag means.
        assert.include(run.stderr, "simple-ipc run-daemon [flags]")
        assert.match(run.stderr, /^\s+--idle-shutdown integer\s+seconds without a request/m)
        assert.deepStrictEqual(fs.readdirSync(dir), [])
      }))
  }

  it.live("--idle-shutdown with no value: a usage error", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const run = yield* cli(["run-daemon", `--name=${nodePath.join(dir, "ipc")}`, "--idle-shutdown"])
      assert.strictEqual(run.code, 1)
      assert.isTrue(run.stderr.startsWith("error: Missing value for flag --idle-shutdown\n"), run.stderr)
      assert.deepStrictEqual(fs.readdirSync(dir), [])
    }))
})
