/**
 * The `simple-ipc` command line (the built `dist/cli/bin.js`) on Windows:
 * Git's test-tool subcommands against a `run-daemon` over a named pipe.
 * Run by `npm run test:windows`.
 */
import { Client } from "effect-simple-ipc"
import { Effect } from "effect"
import * as assert from "node:assert/strict"
import { test } from "node:test"
import { cli, pipePath, run, runDaemon } from "./support.ts"

test("run-daemon serves; is-active, send and stop-daemon work against it; the daemon exits 0", () =>
  run(Effect.gen(function*() {
    const path = yield* pipePath()
    const daemon = yield* runDaemon(path)

    const active = yield* cli("is-active", `--name=${path}`)
    assert.equal(active.code, 0, active.stderr)

    const ping = yield* cli("send", `--name=${path}`, "--token=ping")
    assert.deepEqual([ping.code, ping.stdout, ping.stderr], [0, "pong\n", ""])

    // The test application's large response, every row of it.
    const chunk = yield* cli("send", `--name=${path}`, "--token=chunk")
    assert.equal(chunk.code, 0, chunk.stderr)
    assert.equal(chunk.stdout.split("\n").filter((line) => line !== "").length, 10000)

    const second = yield* cli("run-daemon", `--name=${path}`)
    assert.deepEqual([second.code, second.stderr], [1, `error: socket/pipe already in use: '${path}'\n`])

    const stop = yield* cli("stop-daemon", `--name=${path}`)
    assert.equal(stop.code, 0, stop.stderr)
    const exit = yield* daemon.exit
    assert.equal(exit.code, 0, exit.stderr)
    assert.equal(yield* Client.activeState(path), "PathNotFound")
  })))

test("is-active and send without a server: exit 1 and Git's words for a missing pipe", () =>
  run(Effect.gen(function*() {
    const path = yield* pipePath()
    const active = yield* cli("is-active", `--name=${path}`)
    assert.deepEqual([active.code, active.stderr], [1, `error: path not found '${path}'\n`])
    const send = yield* cli("send", `--name=${path}`, "--token=ping")
    assert.equal(send.code, 1)
    assert.equal(send.stdout, "")
  })))
