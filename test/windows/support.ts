/**
 * Helpers of the Windows suite, which Windows Node runs (under Wine in CI,
 * see `scripts/test-windows.ts`) with `node --test`: the library as
 * published (`dist/`, through the package's own exports), the command line
 * as installed (`dist/cli/bin.js`).
 */
import { Client } from "effect-simple-ipc"
import { Duration, Effect, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { killAndWait } from "../support/kill.ts"
import { waitUntil } from "../support/raw.ts"

export { socketPath as pipePath, tempDir } from "../support/tempdir.ts"

/** Runs one test's program; its resources are released when it ends, whatever the outcome. */
export const run = <A, E>(program: Effect.Effect<A, E, Scope.Scope>): Promise<A> => Effect.runPromise(Effect.scoped(program))

/** The compiled command line. */
const bin = fileURLToPath(new URL("../../dist/cli/bin.js", import.meta.url))

export interface Run {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Waits until the child has exited and its output is closed, collecting that output. */
const completion = (child: ChildProcess) =>
  Effect.callback<Run>((resume) => {
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk.toString("latin1")))
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.once("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
  })

/**
 * Windows Node running `args` in a child process for the life of the
 * scope; killed at the end of the scope if it is still running. `exit` is
 * its run to the end, with its output.
 */
const spawnScoped = (args: ReadonlyArray<string>): Effect.Effect<{ readonly exit: Effect.Effect<Run> }, never, Scope.Scope> =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] })),
      (child) => killAndWait(child, "SIGKILL")
    )
    const exit = yield* Effect.cached(completion(child))
    yield* Effect.forkScoped(exit)
    return { exit }
  })

/** `simple-ipc <args>` run to its end, with its output. */
export const cli = (...args: ReadonlyArray<string>): Effect.Effect<Run> =>
  Effect.scoped(Effect.flatMap(spawnScoped([bin, ...args]), (child) => child.exit))

/** A script of this folder, run by Windows Node for the life of the scope (see `spawnScoped`). */
export const spawnScript = (name: string, ...args: ReadonlyArray<string>) =>
  spawnScoped([fileURLToPath(new URL(`./${name}`, import.meta.url)), ...args])

/** Waits until a server listens at `path` (a child process takes a second or two to start under Wine). */
export const listeningAt = (path: string) =>
  waitUntil(Effect.map(Client.activeState(path), (state) => state === "Listening"), Duration.seconds(30))

/** `simple-ipc run-daemon` for the life of the scope (see `spawnScoped`), once it is listening. */
export const runDaemon = (path: string): Effect.Effect<{ readonly exit: Effect.Effect<Run> }, Error, Scope.Scope> =>
  Effect.tap(spawnScoped([bin, "run-daemon", `--name=${path}`]), () => listeningAt(path))
