/**
 * Against Git's own builtin daemon, where the `git` on this machine has one
 * (`git version --build-options` lists `fsmonitor--daemon`): the client
 * starts it, is told what changed, and stops it. Debian 12's Git 2.39 has
 * no builtin daemon on Linux; there these tests are skipped, saying why.
 * The recorded vectors (vectors.test.ts) cover the wire everywhere.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Fsmonitor from "../../src/fsmonitor/Fsmonitor.ts"
import { gitRepository, standIn } from "./support.ts"

const buildOptions = (() => {
  try {
    return execFileSync("git", ["version", "--build-options"], { encoding: "utf8" })
  } catch (error) {
    return `(git version --build-options failed: ${String(error)})`
  }
})()

const hasDaemon = buildOptions.includes("fsmonitor--daemon")
if (!hasDaemon) {
  console.log(
    `Skipping the tests against Git's own fsmonitor daemon: this git (${buildOptions.split("\n")[0]}) ` +
      "does not list fsmonitor--daemon in `git version --build-options`."
  )
}

describe("against Git's builtin fsmonitor daemon", () => {
  it.live.skipIf(!hasDaemon)("starts Git's daemon, hears of a change, and stops it", () =>
    Effect.gen(function*() {
      const { worktree } = yield* gitRepository({ config: { "core.fsmonitor": "true" } })
      const monitor = yield* Fsmonitor.make(worktree, { autoStart: true })
      yield* Effect.addFinalizer(() => Effect.ignore(monitor.stop()))
      const first = yield* monitor.query(Fsmonitor.unknownToken)
      assert.strictEqual(first._tag, "Trivial")
      fs.writeFileSync(nodePath.join(worktree, "new.txt"), "hello\n")
      // Git's daemon waits for its own cookie's event before answering, so
      // the write above is in the answer.
      const next = yield* monitor.query(first.token)
      assert.strictEqual(next._tag, "Changed")
      assert.include(next._tag === "Changed" ? next.paths : [], "new.txt")
      yield* monitor.stop()
      assert.isFalse(yield* monitor.isRunning)
    }))

  it.live.skipIf(!hasDaemon)("git status uses the stand-in daemon example and trusts its answers", () =>
    Effect.gen(function*() {
      const { worktree, log } = yield* standIn({ config: { "core.fsmonitor": "true" } })
      const status = () => execFileSync("git", ["-C", worktree, "status", "--porcelain"], { encoding: "utf8" })
      // The first status has no token: a trivial answer, a full scan, a token stored in the index.
      assert.strictEqual(status(), "")
      fs.appendFileSync(nodePath.join(worktree, "f1.txt"), "more\n")
      fs.writeFileSync(nodePath.join(worktree, "untracked.txt"), "new\n")
      assert.strictEqual(status(), " M f1.txt\n?? untracked.txt\n")
      // Git asked with the stored token and was answered with paths, not trivially.
      assert.match(log(), /^answered builtin:\S+ [1-9]\d* paths$/m)
    }))
})
