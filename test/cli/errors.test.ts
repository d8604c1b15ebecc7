/**
 * Mistakes a person makes, answered so that they know what to do: a path
 * this user may not reach reads as a permission problem naming the path
 * (not as a bad name, or a server in the way), and an empty `--name` is a
 * usage error, not a search for a server at ''.
 *
 * Permission is denied both by the files' modes (which deny even their
 * owner) and, when the tests run as root (whom no mode denies), by running
 * the command line as another user.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { tempDir } from "../support/tempdir.ts"
import { cli } from "./harness.ts"

/** A directory nobody but root may search or write; its mode is restored for the clean-up. */
const closedDir = Effect.gen(function*() {
  const dir = yield* tempDir
  fs.mkdirSync(nodePath.join(dir, "closed"))
  const closed = nodePath.join(dir, "closed")
  fs.chmodSync(closed, 0o000)
  yield* Effect.addFinalizer(() => Effect.sync(() => fs.chmodSync(closed, 0o700)))
  // The other user must reach the directory that holds it.
  fs.chmodSync(dir, 0o755)
  return closed
})

/** A live server whose socket nobody but root may connect to (mode 000), in a directory anyone may search. */
const closedSocket = Effect.gen(function*() {
  const dir = yield* tempDir
  fs.chmodSync(dir, 0o755)
  const path = nodePath.join(dir, "ipc")
  yield* Server.make(path, TestApplication.handler, { mode: 0o000 })
  return path
})

const permissionDenied = (path: string) =>
  new RegExp(`^error: permission denied for '${path.replaceAll(/[.*+?^${}()|[\]\\]/g, "\\$&")}' \\(EACCES\\)`)

describe("a path this user may not reach", () => {
  it.live("is-active and send, with the socket's directory closed: permission denied, naming the path", () =>
    Effect.gen(function*() {
      const path = nodePath.join(yield* closedDir, "ipc")
      for (const args of [["is-active"], ["send", "--token=ping"]]) {
        const run = yield* cli([...args, `--name=${path}`], { asOtherUser: true })
        assert.strictEqual(run.code, 1, args[0])
        assert.match(run.stderr, permissionDenied(path), args[0])
        assert.strictEqual(run.stdout.length, 0)
      }
    }))

  it.live("send to a socket whose mode shuts this user out: permission denied, naming the path", () =>
    Effect.gen(function*() {
      const path = yield* closedSocket
      const run = yield* cli(["send", `--name=${path}`, "--token=ping"], { asOtherUser: true })
      assert.strictEqual(run.code, 1)
      assert.match(run.stderr, permissionDenied(path))
    }))

  it.live("run-daemon where another user's socket sits: named as theirs and left alone, not 'already in use'", () =>
    Effect.gen(function*() {
      const path = yield* closedSocket
      // The directory must let the other user create the lock file.
      fs.chmodSync(nodePath.dirname(path), 0o1777)
      const run = yield* cli(["run-daemon", `--name=${path}`], { asOtherUser: true })
      assert.strictEqual(run.code, 1)
      assert.strictEqual(
        run.stderr,
        `error: could not start server on: '${path}': the socket there belongs to another user (uid 0) and is never removed; that user or root can remove it\n`
      )
      assert.isTrue(fs.lstatSync(path).isSocket(), "the socket is left alone")
    }))

  it.live("run-daemon in a directory this user may not write: the lock file's path and the reason", () =>
    Effect.gen(function*() {
      const path = nodePath.join(yield* closedDir, "ipc")
      const run = yield* cli(["run-daemon", `--name=${path}`], { asOtherUser: true })
      assert.strictEqual(run.code, 1)
      assert.include(run.stderr, `'${path}.lock'`)
      assert.include(run.stderr, "EACCES")
    }))

  it.live("run-daemon under a directory this user may not even look into: a typed error naming the path, not a crash", () =>
    Effect.gen(function*() {
      const path = nodePath.join(yield* closedDir, "sub", "ipc")
      const run = yield* cli(["run-daemon", `--name=${path}`], { asOtherUser: true })
      assert.strictEqual(run.code, 1)
      assert.match(run.stderr, /^error: /, run.stderr)
      assert.include(run.stderr, `'${path}.lock'`)
      assert.include(run.stderr, "EACCES")
    }))
})

describe("an empty --name", () => {
  for (const subcommand of ["is-active", "send", "run-daemon", "stop-daemon", "multiple"]) {
    it.live(`${subcommand} --name=: a usage error, exit 1, standard output untouched`, () =>
      Effect.gen(function*() {
        const run = yield* cli([subcommand, "--name="])
        assert.strictEqual(run.code, 1)
        assert.strictEqual(run.stdout.length, 0)
        assert.isTrue(
          run.stderr.startsWith(`error: Invalid value for flag --name: "". Expected a socket path, not an empty string\n`),
          run.stderr
        )
        assert.include(run.stderr, "USAGE")
      }))
  }
})
