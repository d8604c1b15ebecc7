/**
 * Finding a worktree's daemon as Git does (`<git-dir>/fsmonitor--daemon.ipc`,
 * or `fsmonitor.socketDir` and the SHA-1 of the worktree path for a
 * repository on a network file system), and starting one with
 * `git fsmonitor--daemon start` through the configured `git`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"
import * as Fsmonitor from "../../src/fsmonitor/Fsmonitor.ts"
import { nodeBinary } from "../support/child.ts"
import { tempDir } from "../support/tempdir.ts"
import { gitRepository } from "./support.ts"

const sha1 = (text: string) => createHash("sha1").update(text).digest("hex")

describe("locate", () => {
  it.live("a worktree's socket is in its git directory, found from any subdirectory", () =>
    Effect.gen(function*() {
      const { worktree } = yield* gitRepository()
      fs.mkdirSync(nodePath.join(worktree, "sub"))
      const location = yield* Fsmonitor.locate(nodePath.join(worktree, "sub"))
      assert.deepStrictEqual(location, {
        worktree,
        gitDir: nodePath.join(worktree, ".git"),
        socketPath: nodePath.join(worktree, ".git", "fsmonitor--daemon.ipc")
      })
    }))

  it.live("a linked worktree's socket is in its own git directory", () =>
    Effect.gen(function*() {
      // A linked worktree needs a commit to check out.
      const { dir, worktree } = yield* gitRepository({ commit: true })
      const linked = nodePath.join(dir, "linked")
      execFileSync("git", ["-C", worktree, "worktree", "add", "-q", linked])
      const location = yield* Fsmonitor.locate(linked)
      assert.strictEqual(location.socketPath, nodePath.join(worktree, ".git", "worktrees", "linked", "fsmonitor--daemon.ipc"))
    }))

  it.live("on a network file system: fsmonitor.socketDir, named after the worktree path's SHA-1", () =>
    Effect.gen(function*() {
      const sockets = nodePath.join(fs.realpathSync(yield* tempDir), "sockets")
      const { worktree } = yield* gitRepository({ config: { "fsmonitor.socketDir": sockets } })
      const location = yield* Fsmonitor.locate(worktree, { networkFileSystem: true })
      assert.strictEqual(location.socketPath, nodePath.join(sockets, `.git-fsmonitor-${sha1(worktree)}`))
    }))

  it.live("on a network file system without fsmonitor.socketDir: the home directory", () =>
    Effect.gen(function*() {
      const { worktree } = yield* gitRepository()
      const location = yield* Fsmonitor.locate(worktree, { networkFileSystem: true })
      assert.strictEqual(location.socketPath, nodePath.join(os.homedir(), `.git-fsmonitor-${sha1(worktree)}`))
    }))

  it.live("not a repository, or no git: RepositoryError with git's own words", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const error = yield* Effect.flip(Fsmonitor.locate(dir))
      assert.strictEqual(error._tag, "RepositoryError")
      assert.include(error.message, "not a git repository")
      const missing = yield* Effect.flip(Fsmonitor.locate(dir, { git: nodePath.join(dir, "no-such-git") }))
      assert.include(missing.message, "ENOENT")
    }))
})

const fakeDaemon = fileURLToPath(new URL("./fakeDaemon.ts", import.meta.url))

/**
 * A `git` that runs the stand-in daemon for `git fsmonitor--daemon start`,
 * and hands everything else to the real one.
 */
const fakeGit = (dir: string) => {
  const path = nodePath.join(dir, "git")
  fs.writeFileSync(
    path,
    `#!/bin/sh
if [ "$1" = fsmonitor--daemon ] && [ "$2" = start ]; then
  exec "${nodeBinary}" "${fakeDaemon}" "$(git rev-parse --path-format=absolute --git-path fsmonitor--daemon.ipc)"
fi
exec git "$@"
`,
    { mode: 0o755 }
  )
  return path
}

describe("make", () => {
  it.live("with autoStart, a query that finds no daemon starts one through the configured git and asks again", () =>
    Effect.gen(function*() {
      const { dir, worktree } = yield* gitRepository()
      const monitor = yield* Fsmonitor.make(worktree, { git: fakeGit(dir), autoStart: true })
      yield* Effect.addFinalizer(() => Effect.ignore(monitor.stop()))
      assert.isFalse(yield* monitor.isRunning)
      const answer = yield* monitor.query("builtin:fake")
      assert.strictEqual(answer._tag, "Trivial")
      assert.isTrue(yield* monitor.isRunning)
      assert.deepStrictEqual(yield* monitor.query(answer.token.replace(/:\d+$/, ":0")), Fsmonitor.changed(answer.token, ["started.txt"]))
      yield* monitor.stop()
      assert.isFalse(fs.existsSync(monitor.socketPath))
    }))

  it.live("without autoStart, no daemon is NotRunning; a git that cannot start one is StartFailed", () =>
    Effect.gen(function*() {
      const { dir, worktree } = yield* gitRepository()
      const plain = yield* Fsmonitor.make(worktree)
      assert.strictEqual((yield* Effect.flip(plain.query("builtin:fake"))).reason, "NotRunning")
      const failing = nodePath.join(dir, "failing-git")
      fs.writeFileSync(failing, `#!/bin/sh\n[ "$1" = fsmonitor--daemon ] && exit 3\nexec git "$@"\n`, { mode: 0o755 })
      const monitor = yield* Fsmonitor.make(worktree, { git: failing, autoStart: true })
      const error = yield* Effect.flip(monitor.query("builtin:fake"))
      assert.strictEqual(error.reason, "StartFailed")
      assert.include(error.message, "exited with code 3")
    }))
})
