/**
 * Running the real `simple-ipc` executable (the compiled `dist/cli/bin.js`,
 * as a user's install runs it) as child processes, and cleaning up the
 * daemons it starts in the background.
 */
import { Duration, Effect } from "effect"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"
import * as Client from "../../src/client/Client.ts"
import { killAndWait, nodeBinary } from "../support/child.ts"
import { waitUntil } from "../support/raw.ts"
import { listening } from "../support/probe.ts"
import { reachableCopy, reachableNode } from "../support/otherUser.ts"

/** The compiled command line. */
export const bin = fileURLToPath(new URL("../../dist/cli/bin.js", import.meta.url))

export interface Run {
  /** Exit code, or null when the process was killed by a signal. */
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** Standard output, as bytes. */
  readonly stdout: Buffer
  readonly stderr: string
}

/** The lines of standard output (without the empty string after a final newline). */
export const lines = (run: Run): Array<string> => {
  const all = run.stdout.toString("latin1").split("\n")
  if (all.at(-1) === "") all.pop()
  return all
}

/**
 * The user `nobody`, for running the command line as a user other than
 * the one that owns the test's files; only root may switch users, and a
 * test run by another user already is one.
 */
export const otherUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}

export interface CliOptions {
  readonly cwd?: string
  /** Run as {@link otherUser}. */
  readonly asOtherUser?: boolean
}

/** Spawns `simple-ipc <args>` with standard output and error piped. */
const spawnCli = (args: ReadonlyArray<string>, options: CliOptions | undefined) =>
  options?.asOtherUser === true
    ? spawn(reachableNode(), [nodePath.join(reachableCopy(nodePath.dirname(bin)), nodePath.basename(bin)), ...args], {
      cwd: options.cwd,
      stdio: ["ignore", "pipe", "pipe"],
      ...otherUser
    })
    : spawn(nodeBinary, [bin, ...args], { cwd: options?.cwd, stdio: ["ignore", "pipe", "pipe"] })

/** Waits until the child has exited and its output is closed, collecting that output. */
const completion = (child: ChildProcess) =>
  Effect.callback<Run>((resume) => {
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    child.stdout!.on("data", (chunk: Buffer) => stdout.push(chunk))
    child.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk))
    child.on("close", (code, signal) =>
      resume(Effect.succeed({ code, signal, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString("utf8") })))
  })

/**
 * Runs `simple-ipc <args>` to completion. Interrupting the effect kills the
 * process.
 */
export const cli = (args: ReadonlyArray<string>, options?: CliOptions) =>
  Effect.acquireUseRelease(
    Effect.sync(() => spawnCli(args, options)),
    completion,
    (child) => killAndWait(child, "SIGKILL")
  )

export interface Background {
  readonly child: ChildProcess
  /** Resolves when the process has exited and its output is closed. */
  readonly done: Effect.Effect<Run>
}

/**
 * Starts `simple-ipc <args>` (a `run-daemon`, say) for the life of the
 * scope; it is killed (SIGKILL) when the scope closes, if still running.
 */
export const cliInBackground = (args: ReadonlyArray<string>, options?: CliOptions) =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawnCli(args, options)),
      (child) => killAndWait(child, "SIGKILL")
    )
    const done = yield* Effect.cached(completion(child))
    // Start collecting output at once, so the child never blocks on a full pipe.
    yield* Effect.forkScoped(done)
    return { child, done } satisfies Background
  })

export { listening }

/** Waits until a server is listening at `path`. */
export const awaitListening = (path: string) => waitUntil(listening(path))

const realpath = (path: string) => {
  try {
    return fs.realpathSync(path)
  } catch {
    return path
  }
}

/**
 * The processes running this command line's `run-daemon` for a test
 * directory: their command line names the directory, or they run in it
 * (a relative `--name`). `ps` lists them on every Unix.
 */
export const daemonsOf = (dir: string): Array<number> => {
  const real = realpath(dir)
  const listing = execFileSync("ps", ["-A", "-o", "pid=", "-o", "args="], { encoding: "utf8" })
  const pids: Array<number> = []
  for (const line of listing.split("\n")) {
    const match = /^\s*(\d+)\s+(.*)$/.exec(line)
    if (match === null || !match[2]!.includes(bin) || !match[2]!.includes("run-daemon")) continue
    const pid = Number(match[1])
    const cwd = process.platform === "linux" ? realpath(`/proc/${pid}/cwd`) : undefined
    if (match[2]!.includes(dir) || match[2]!.includes(real) || cwd === real) pids.push(pid)
  }
  return pids
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Makes sure no daemon started for `dir` outlives the scope (they are
 * detached, so nothing else would stop them): when the scope closes, every
 * socket in `dir` is asked to quit, and any daemon still running a moment
 * later is killed.
 */
export const reapDaemons = (dir: string) =>
  Effect.addFinalizer(() =>
    Effect.gen(function*() {
      const entries = fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true, withFileTypes: true }) : []
      for (const entry of entries) {
        if (!entry.isSocket()) continue
        yield* Effect.ignore(Client.request(nodePath.join(entry.parentPath, entry.name), "quit"))
      }
      yield* Effect.ignore(waitUntil(Effect.sync(() => daemonsOf(dir).length === 0), Duration.seconds(2)))
      for (const pid of daemonsOf(dir)) {
        process.kill(pid, "SIGKILL")
        yield* waitUntil(Effect.sync(() => !alive(pid)))
      }
    }).pipe(Effect.orDie)
  )
