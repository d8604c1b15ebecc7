/**
 * A stand-in for `git fsmonitor--daemon`, built on this library, that
 * `git status` (with `core.fsmonitor=true`) uses and trusts.
 *
 *     node examples/fsmonitor-daemon/main.ts <worktree> [<cookie wait in ms>]
 *
 * It finds the socket as Git does, watches the worktree, and answers Git's
 * queries from batches of changed paths (`Fsmonitor.makeJournal`,
 * `Fsmonitor.handler`). Before each answer it synchronises with its
 * watcher as Git's daemon does: it writes a cookie file under the git
 * directory and waits for the watcher to report it (1 s at most, else it
 * answers trivially, "everything may have changed"). Every change made
 * before the query reached the kernel's event queue before the cookie, so
 * once the cookie is seen, they have been seen too. Each answer is logged
 * on standard output: `answered <token> <n> paths` or `answered <token> /`.
 *
 * An example, not a replacement for Git's daemon:
 * - Git trusts the answer completely: a path the daemon fails to report is
 *   a modified file `git status` does not show, and `git add -u` does not
 *   stage.
 * - Node's watching can miss events: its recursive `fs.watch` on Linux
 *   re-reads directories and drops what changed meanwhile (this example
 *   uses a watch per directory, which is better but not proof: a directory
 *   created and filled before its watch exists is rescanned, not watched).
 * - libuv does not report inotify's queue overflow (IN_Q_OVERFLOW), so
 *   lost events can go unnoticed; Git's daemon resyncs when that happens.
 * - Git starts its own daemon if none answers in time; a stand-in that is
 *   slow to start races it.
 * - Linked worktrees whose git directory is outside the worktree are not
 *   handled here.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Deferred, Duration, Effect } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { Fsmonitor, Server } from "effect-simple-ipc"
import * as TreeWatcher from "../monitor/TreeWatcher.ts"

/**
 * Serves `worktree` until a client sends quit. A query waits up to
 * `cookieWait` for its cookie before answering trivially (Git's daemon: 1 s).
 */
const serve = (worktree: string, cookieWait: Duration.Duration) =>
  Effect.gen(function*() {
    const location = yield* Fsmonitor.locate(worktree)
    const gitDir = nodePath.relative(location.worktree, location.gitDir).split(nodePath.sep).join("/")
    if (gitDir.startsWith("..") || nodePath.isAbsolute(gitDir)) {
      return yield* Effect.fail(new Error(`the git directory '${location.gitDir}' is outside the worktree: not handled`))
    }
    const cookieDir = `${gitDir}/fsmonitor--daemon/cookies`
    fs.mkdirSync(nodePath.join(location.worktree, cookieDir), { recursive: true })

    const journal = Fsmonitor.makeJournal()
    // Paths seen since the last answer; recorded as one batch when a query comes.
    const pending = new Set<string>()
    let lost = false
    const cookies = new Map<string, Deferred.Deferred<void>>()
    let cookieCount = 0

    /**
     * A path as Git should hear of it. A directory, or something gone that
     * may have been one (a directory moved away reports only its own name),
     * is also given with a trailing `/`, which makes Git look at everything
     * under it.
     */
    const note = (path: string) => {
      pending.add(path)
      const stats = fs.lstatSync(nodePath.join(location.worktree, path), { throwIfNoEntry: false })
      if (stats === undefined || stats.isDirectory()) pending.add(`${path}/`)
    }

    yield* TreeWatcher.watch(location.worktree, {
      onChange: (path) => {
        if (path.startsWith(`${cookieDir}/`)) {
          const cookie = cookies.get(path.slice(cookieDir.length + 1))
          if (cookie !== undefined) Deferred.doneUnsafe(cookie, Effect.void)
          return
        }
        // Git's own files are not the worktree's.
        if (path === gitDir || path.startsWith(`${gitDir}/`)) return
        note(path)
      },
      onLost: (reason) => {
        console.error(`events lost (${reason}): the next answer is trivial`)
        lost = true
      }
    })

    /** Writes a cookie and waits until the watcher reports it; then the batch is complete. */
    const synchronise = Effect.gen(function*() {
      const name = `${process.pid}-${cookieCount++}`
      const file = nodePath.join(location.worktree, cookieDir, name)
      const seen = yield* Deferred.make<void>()
      cookies.set(name, seen)
      fs.writeFileSync(file, "")
      const inTime = yield* Deferred.await(seen).pipe(
        Effect.timeoutOption(cookieWait),
        Effect.ensuring(Effect.sync(() => {
          cookies.delete(name)
          fs.rmSync(file, { force: true })
        }))
      )
      if (lost) {
        lost = false
        pending.clear()
        yield* journal.reset
        return false
      }
      yield* Effect.orDie(journal.record([...pending]))
      pending.clear()
      return inTime._tag === "Some"
    })

    const handler = Fsmonitor.handler(journal, { synchronise })
    yield* Server.run(location.socketPath, (request, reply) => {
      const chunks: Array<string> = []
      const logged = (chunk: Uint8Array | string) => {
        chunks.push(Buffer.from(chunk).toString("utf8"))
        return reply(chunk)
      }
      return Effect.tap(handler(request, logged), () =>
        Effect.sync(() => {
          if (chunks.length === 0) return console.log("quit")
          const [token, ...rest] = chunks.join("").split("\0").slice(0, -1)
          console.log(`answered ${token} ${rest[0] === "/" ? "/" : `${rest.length} paths`}`)
        }))
    })
  })

if (import.meta.main) {
  const worktree = process.argv[2]
  if (worktree === undefined) {
    console.error("usage: main.ts <worktree> [<cookie wait in ms>]")
    process.exit(2)
  }
  NodeRuntime.runMain(Effect.scoped(serve(worktree, Duration.millis(Number(process.argv[3] ?? 1000)))))
}
