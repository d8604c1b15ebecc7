import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { killAndWait } from "./kill.ts"
import { listening } from "./probe.ts"
import { waitUntil } from "./raw.ts"

export { exitOf, killAndWait } from "./kill.ts"

/** The Node binary running the tests (the project's own Node 24). */
export const nodeBinary = process.execPath

/** A path inside the test support folder. */
export const supportFile = (name: string) => fileURLToPath(new URL(`./${name}`, import.meta.url))

/**
 * Spawns a child process for the life of the scope; it is killed (SIGKILL)
 * when the scope closes. `env` adds to (or overrides) this process's
 * environment.
 */
export const spawnScoped = (
  args: ReadonlyArray<string>,
  options?: { stdio?: "ignore" | "pipe"; env?: Record<string, string> }
) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      spawn(nodeBinary, args, { stdio: options?.stdio ?? "ignore", env: { ...process.env, ...options?.env } })
    ),
    (child) => killAndWait(child, "SIGKILL")
  )

/**
 * Starts the test daemon (the test application, served at `path` with
 * `threads` workers) in a child process for the life of the scope, and
 * waits until it is listening.
 */
export const startDaemon = (path: string, threads?: number) =>
  Effect.tap(
    // --expose-gc lets a test ask the daemon for its memory after a full
    // collection (see daemon.ts).
    spawnScoped(["--expose-gc", supportFile("daemon.ts"), path, ...(threads === undefined ? [] : [String(threads)])], {
      stdio: "pipe"
    }),
    () => waitUntil(listening(path))
  )

/**
 * The daemon's resident memory, in MiB, after a full garbage collection:
 * memory still held then is held for good, where a reading taken at any
 * moment depends on how much garbage happens to be waiting for collection.
 */
export const settledRssMiB = (daemon: ChildProcess) =>
  Effect.callback<number>((resume) => {
    daemon.stdout!.once("data", (line: Buffer) => resume(Effect.succeed(JSON.parse(String(line)).rss / 1048576)))
    daemon.kill("SIGUSR2")
  })

/**
 * Starts a child that takes the lock file `lock` and holds it until killed,
 * for the life of the scope; returns once the lock is taken.
 */
export const startLockHolder = (lock: string) =>
  Effect.tap(spawnScoped([supportFile("lockHolder.ts"), lock], { stdio: "pipe" }), (holder) =>
    Effect.callback<void>((resume) => {
      holder.stdout!.once("data", () => resume(Effect.void))
    }))
