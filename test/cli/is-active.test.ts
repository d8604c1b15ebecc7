/**
 * `is-active`: every answer it can give, with Git's message and exit code.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { killAndWait } from "../support/child.ts"
import { waitUntil } from "../support/raw.ts"
import { tempDir } from "../support/tempdir.ts"
import { awaitListening, cli, cliInBackground } from "./harness.ts"

const isActive = (path: string) => cli(["is-active", `--name=${path}`])

const expectAnswer = (path: string, message: string | undefined) =>
  Effect.gen(function*() {
    const run = yield* isActive(path)
    assert.strictEqual(run.stdout.length, 0)
    if (message === undefined) {
      assert.strictEqual(run.code, 0, run.stderr)
      assert.strictEqual(run.stderr, "")
    } else {
      assert.strictEqual(run.code, 1)
      assert.strictEqual(run.stderr, `error: ${message}\n`)
    }
  })

describe("is-active", () => {
  it.live("a listening server: exit 0, nothing printed", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = nodePath.join(dir, "ipc")
      yield* cliInBackground(["run-daemon", `--name=${path}`])
      yield* awaitListening(path)
      yield* expectAnswer(path, undefined)
    }))

  it.live("nothing at the path: not listening (Git answers so for a missing path)", () =>
    Effect.gen(function*() {
      const path = nodePath.join(yield* tempDir, "ipc")
      yield* expectAnswer(path, `no server listening at '${path}'`)
    }))

  it.live("a missing directory, or a file where a directory should be: not listening", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const missing = nodePath.join(dir, "no-such-dir", "ipc")
      yield* expectAnswer(missing, `no server listening at '${missing}'`)
      fs.writeFileSync(nodePath.join(dir, "file"), "")
      const through = nodePath.join(dir, "file", "ipc")
      yield* expectAnswer(through, `no server listening at '${through}'`)
    }))

  it.live("a stale socket (its server was killed): not listening", () =>
    Effect.gen(function*() {
      const path = nodePath.join(yield* tempDir, "ipc")
      const daemon = yield* cliInBackground(["run-daemon", `--name=${path}`])
      yield* awaitListening(path)
      yield* killAndWait(daemon.child, "SIGKILL")
      assert.isTrue(fs.lstatSync(path).isSocket())
      yield* expectAnswer(path, `no server listening at '${path}'`)
    }))

  for (
    const [kind, plant] of [
      ["a regular file", (path: string) => fs.writeFileSync(path, "data")],
      ["a directory", (path: string) => fs.mkdirSync(path)],
      ["a symlink", (path: string) => fs.symlinkSync(nodePath.join(nodePath.dirname(path), "target"), path)]
    ] as const
  ) {
    it.live(`${kind}: invalid pipe/socket name, and left in place`, () =>
      Effect.gen(function*() {
        const path = nodePath.join(yield* tempDir, "ipc")
        plant(path)
        const before = fs.lstatSync(path)
        yield* expectAnswer(path, `invalid pipe/socket name '${path}'`)
        assert.strictEqual(fs.lstatSync(path).ino, before.ino)
      }))
  }

  it.live("a symlink to a live server's socket: invalid, as Git's lstat check answers", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = nodePath.join(dir, "ipc")
      yield* cliInBackground(["run-daemon", `--name=${path}`])
      yield* awaitListening(path)
      const link = nodePath.join(dir, "link")
      fs.symlinkSync(path, link)
      yield* expectAnswer(link, `invalid pipe/socket name '${link}'`)
    }))

  it.live("a socket that refuses stream connections (a datagram socket): other error", () =>
    Effect.gen(function*() {
      const path = nodePath.join(yield* tempDir, "ipc")
      // Node cannot bind a Unix datagram socket; Perl, which Git's own test
      // suite needs anyway, can.
      yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn("perl", [
            "-MSocket",
            "-e",
            "socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die $!; bind($s, pack_sockaddr_un($ARGV[0])) or die $!; sleep 60",
            path
          ], { stdio: "ignore" })
        ),
        (child) => killAndWait(child, "SIGKILL")
      )
      yield* waitUntil(Effect.sync(() => fs.existsSync(path) && fs.lstatSync(path).isSocket()))
      yield* expectAnswer(path, `other error for '${path}'`)
    }))
})

describe("client subcommands check is-active first", () => {
  for (const subcommand of ["stop-daemon", "send", "sendbytes", "multiple"]) {
    it.live(`${subcommand} fails with is-active's message when no server is there`, () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const missing = nodePath.join(dir, "ipc")
        const file = nodePath.join(dir, "file")
        fs.writeFileSync(file, "data")
        for (
          const [path, message] of [
            [missing, `no server listening at '${missing}'`],
            [file, `invalid pipe/socket name '${file}'`]
          ]
        ) {
          const run = yield* cli([subcommand, `--name=${path}`])
          assert.strictEqual(run.code, 1)
          assert.strictEqual(run.stdout.length, 0)
          assert.strictEqual(run.stderr, `error: ${message}\n`)
        }
      }))
  }
})
