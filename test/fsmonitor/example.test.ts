/**
 * The stand-in daemon example (examples/fsmonitor-daemon), run as a reader
 * runs it: it answers at the socket Git would use, reports every change
 * made before a query (its cookie synchronisation makes that
 * deterministic), tells moved-away directories with a trailing `/`, keeps
 * Git's own files out, and quits when asked.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Fsmonitor from "../../src/fsmonitor/Fsmonitor.ts"
import { exitOf } from "../support/kill.ts"
import { standIn } from "./support.ts"

describe("examples/fsmonitor-daemon", () => {
  it.live("answers with every change made before the query, and quits when asked", () =>
    Effect.gen(function*() {
      const { worktree, monitor, child, log } = yield* standIn()
      const first = yield* monitor.query(Fsmonitor.unknownToken)
      assert.strictEqual(first._tag, "Trivial")
      fs.appendFileSync(nodePath.join(worktree, "f1.txt"), "more\n")
      fs.writeFileSync(nodePath.join(worktree, "untracked.txt"), "new\n")
      const second = yield* monitor.query(first.token)
      assert.strictEqual(second._tag, "Changed")
      const paths = second._tag === "Changed" ? second.paths : []
      assert.includeMembers([...paths], ["f1.txt", "untracked.txt"])
      // The cookies and the index are Git's, not the worktree's.
      assert.isFalse(paths.some((path) => path.startsWith(".git")), paths.join(", "))

      fs.renameSync(nodePath.join(worktree, "dir"), nodePath.join(worktree, "moved"))
      const third = yield* monitor.query(second.token)
      assert.includeMembers(third._tag === "Changed" ? [...third.paths] : [], ["dir/", "moved/"])
      assert.notInclude(third._tag === "Changed" ? third.paths : [], "untracked.txt")

      yield* monitor.stop()
      assert.deepStrictEqual(yield* exitOf(child), { code: 0, signal: null })
      assert.match(log(), /^answered builtin:\S+:0 \/\nanswered builtin:\S+:1 \d+ paths\nanswered builtin:\S+:2 \d+ paths\nquit\n$/)
    }))
})
