/**
 * `simple-ipc fsmonitor query|flush|stop` against our server side at a
 * repository's `.git/fsmonitor--daemon.ipc`: what it prints, its JSON, its
 * exit codes and messages.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Fsmonitor from "../../src/fsmonitor/Fsmonitor.ts"
import * as Server from "../../src/server/Server.ts"
import { cli, lines } from "../cli/harness.ts"
import { tempDir } from "../support/tempdir.ts"
import { gitRepository } from "./support.ts"

/** A repository whose daemon is our server side, with a journal the test writes to. */
const repositoryWithDaemon = Effect.gen(function*() {
  const { worktree } = yield* gitRepository()
  const path = nodePath.join(worktree, ".git", "fsmonitor--daemon.ipc")
  const journal = Fsmonitor.makeJournal({ makeId: (n) => `id${n}` })
  const server = yield* Server.make(path, Fsmonitor.handler(journal))
  return { worktree, path, journal, server }
})

describe("simple-ipc fsmonitor", () => {
  it.live("query prints the token, then the changed paths one per line", () =>
    Effect.gen(function*() {
      const { worktree, journal } = yield* repositoryWithDaemon
      yield* journal.record(["f1.txt", "dir/a.txt", "with space.txt", "gone/"])
      const run = yield* cli(["fsmonitor", "query", `--worktree=${worktree}`, "--token=builtin:id0:0"])
      assert.strictEqual(run.code, 0, run.stderr)
      assert.deepStrictEqual(lines(run), ["builtin:id0:1", "f1.txt", "dir/a.txt", "with space.txt", "gone/"])
    }))

  it.live("query without a token prints the daemon's current token and / (everything may have changed)", () =>
    Effect.gen(function*() {
      const { worktree } = yield* repositoryWithDaemon
      const run = yield* cli(["fsmonitor", "query"], { cwd: worktree })
      assert.strictEqual(run.code, 0, run.stderr)
      assert.deepStrictEqual(lines(run), ["builtin:id0:0", "/"])
    }))

  it.live("--json prints the answer as one JSON object", () =>
    Effect.gen(function*() {
      const { worktree, journal } = yield* repositoryWithDaemon
      yield* journal.record(["a\nb.txt"])
      const changed = yield* cli(["fsmonitor", "query", `--worktree=${worktree}`, "--token=builtin:id0:0", "--json"])
      assert.deepStrictEqual(JSON.parse(changed.stdout.toString()), { token: "builtin:id0:1", trivial: false, paths: ["a\nb.txt"] })
      const flushed = yield* cli(["fsmonitor", "flush", "--json", `--worktree=${worktree}`])
      assert.deepStrictEqual(JSON.parse(flushed.stdout.toString()), { token: "builtin:id1:0", trivial: true, paths: [] })
    }))

  it.live("flush prints the new token; stop makes the daemon quit and waits", () =>
    Effect.gen(function*() {
      const { worktree, path, server } = yield* repositoryWithDaemon
      const flushed = yield* cli(["fsmonitor", "flush", `--worktree=${worktree}`])
      assert.deepStrictEqual(lines(flushed), ["builtin:id1:0", "/"])
      const stopped = yield* cli(["fsmonitor", "stop", `--worktree=${worktree}`])
      assert.strictEqual(stopped.code, 0, stopped.stderr)
      assert.strictEqual(stopped.stdout.length, 0)
      yield* server.join
      assert.isFalse(fs.existsSync(path))
    }))

  it.live("no daemon: exit 1 and a message that says how to start one", () =>
    Effect.gen(function*() {
      const { worktree } = yield* gitRepository()
      const run = yield* cli(["fsmonitor", "query", `--worktree=${worktree}`])
      assert.strictEqual(run.code, 1)
      assert.match(run.stderr, /^error: no fsmonitor daemon is running at '.*fsmonitor--daemon\.ipc' \(start one with 'git fsmonitor--daemon start'\)/)
    }))

  it.live("not a repository: exit 1 with git's reason", () =>
    Effect.gen(function*() {
      const run = yield* cli(["fsmonitor", "query", `--worktree=${yield* tempDir}`])
      assert.strictEqual(run.code, 1)
      assert.include(run.stderr, "not a git repository")
    }))

  for (
    const [args, message] of [
      [["fsmonitor"], "error: Missing action in command simple-ipc fsmonitor: one of query, flush, stop"],
      [["fsmonitor", "watch"], "error: Unknown action \"watch\" in command simple-ipc fsmonitor; expected query, flush, stop"],
      [["fsmonitor", "query", "--json=maybe"], "error: Invalid value for flag --json"]
    ] as const
  ) {
    it.live(`simple-ipc ${args.join(" ")}: exit 1 with the usage error, then the help`, () =>
      Effect.gen(function*() {
        const run = yield* cli(args)
        assert.strictEqual(run.code, 1)
        assert.isTrue(run.stderr.startsWith(message), run.stderr)
        assert.include(run.stderr, "simple-ipc fsmonitor <query|flush|stop> [flags]")
      }))
  }

  it.live("its help lists its actions and options", () =>
    Effect.gen(function*() {
      const run = yield* cli(["fsmonitor", "--help"])
      const help = run.stdout.toString()
      for (const option of ["--worktree string", "--token string", "--json ", "--max-wait integer"]) assert.include(help, option)
      assert.notInclude(help, "--json flag")
      assert.include((yield* cli(["--help"])).stdout.toString(), "fsmonitor")
    }))
})
