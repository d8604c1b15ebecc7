/**
 * The daemon subcommands: `run-daemon` serves the test application in the
 * foreground, `start-daemon` starts it in the background and waits until
 * it listens, `stop-daemon` asks it to quit and waits until it has.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"
import * as Client from "../client/Client.ts"
import { pollUntil } from "../internal/Poll.ts"
import * as Server from "../server/Server.ts"
import * as TestApplication from "../testing/TestApplication.ts"
import * as AutoStart from "../client/AutoStart.ts"
import * as Commands from "./Commands.ts"
import * as Probe from "./Probe.ts"
import * as Send from "./Send.ts"

/**
 * `start-daemon` failed. The first words are Git's (`daemon terminated`,
 * `daemon failed to start`, `daemon not online yet`), so scripts matching
 * them keep working; the rest says what to do about it.
 *
 * @since 0.1.0
 * @category errors
 */
export class DaemonStartError extends Data.TaggedError("DaemonStartError")<{
  readonly path: string
  readonly reason: "Terminated" | "SpawnFailed" | "Unusable" | "Timeout"
  readonly detail: string
}> {
  override get message(): string {
    switch (this.reason) {
      case "Terminated":
        return `daemon terminated: it ${this.detail} before listening at '${this.path}'; run 'simple-ipc run-daemon --name=${this.path}' to see its error`
      case "SpawnFailed":
      case "Unusable":
        return `daemon failed to start: ${this.detail}`
      case "Timeout":
        return `daemon not online yet: nothing listening at '${this.path}' after ${this.detail}; it may still be starting`
    }
  }
}

/**
 * `stop-daemon` asked the daemon to quit, but it was still listening when
 * the time ran out.
 *
 * @since 0.1.0
 * @category errors
 */
export class DaemonStopError extends Data.TaggedError("DaemonStopError")<{
  readonly path: string
  readonly maxWait: number
}> {
  override get message(): string {
    return `daemon has not shutdown yet: '${this.path}' is still listening after ${this.maxWait} s`
  }
}

/**
 * Serves the test application at `name` with `threads` workers until a
 * client sends `quit`, or no request has come for `idleShutdown` seconds
 * (when given, and not 0). Interrupting it (SIGINT, SIGTERM) stops it
 * gracefully: in-flight responses finish and the socket file is removed.
 *
 * It answers the identity and status control requests (`simple-ipc
 * status`); they begin with a NUL byte, which no request of Git's test
 * suite can, so the test application's answers are Git's.
 *
 * @since 0.1.0
 * @category commands
 */
export const runDaemon = (options: {
  readonly name: string
  readonly threads: number
  /** Seconds without a request after which it stops by itself; 0 (the default): never. */
  readonly idleShutdown?: number | undefined
}): Effect.Effect<void, Server.StartError> =>
  Server.run(options.name, TestApplication.handler, {
    threads: options.threads,
    idleShutdown: Duration.seconds(options.idleShutdown ?? 0),
    identity: { name: "simple-ipc run-daemon", version: Commands.version(), protocol: "git-test-application" },
    status: true
  })

/** This command's own entry point, beside this module (compiled or not). */
const entryPoint = (): string => {
  const self = fileURLToPath(import.meta.url)
  return nodePath.join(nodePath.dirname(self), `bin${nodePath.extname(self)}`)
}

const seconds = (n: number) => `${n} s`

/**
 * Starts `run-daemon` with the same name, threads and idle shutdown in
 * the background, in its own session with no standard input, output or
 * error, so that it outlives this process and its terminal. Waits until
 * the path is listening (exit 0), the child dies (reported at once), or
 * `maxWait` seconds pass. A child still starting when the time runs out is left to
 * carry on, as Git's tool leaves it.
 *
 * @since 0.1.0
 * @category commands
 */
export const startDaemon = (options: {
  readonly name: string
  readonly threads: number
  readonly maxWait: number
  readonly idleShutdown?: number | undefined
}): Effect.Effect<void, DaemonStartError> => {
  const path = options.name
  const idle = (options.idleShutdown ?? 0) > 0 ? [`--idle-shutdown=${options.idleShutdown}`] : []
  return AutoStart.start(path, {
    command: process.execPath,
    args: [...process.execArgv, entryPoint(), "run-daemon", `--name=${path}`, `--threads=${options.threads}`, ...idle],
    startTimeout: Duration.seconds(options.maxWait),
    // Git's tool reports a daemon that died at once; no other starter is
    // expected to take its place.
    exitGrace: Duration.zero
  }).pipe(
    Effect.mapError((error) => {
      switch (error.reason) {
        case "SpawnFailed":
          return new DaemonStartError({ path, reason: "SpawnFailed", detail: error.detail })
        case "Exited":
          return new DaemonStartError({ path, reason: "Terminated", detail: error.detail })
        case "Unreachable":
          return new DaemonStartError({ path, reason: "Unusable", detail: error.detail })
        case "Timeout":
          return new DaemonStartError({ path, reason: "Timeout", detail: seconds(options.maxWait) })
      }
    })
  )
}

/**
 * Asks the server at `name` (which must be listening) to quit, then checks
 * every 100 ms until it no longer listens, failing if it still does after
 * `maxWait` seconds.
 *
 * @since 0.1.0
 * @category commands
 */
export const stopDaemon = (options: {
  readonly name: string
  readonly maxWait: number
}): Effect.Effect<void, Client.ConnectError | Send.SendError | DaemonStopError> =>
  Effect.gen(function*() {
    const path = options.name
    yield* Probe.requireListening(path)
    yield* Client.request(path, "quit", Send.connectOptions).pipe(
      Effect.mapError((failure) => new Send.SendError({ path, token: "quit", failure }))
    )
    // Git's tool looks first 100 ms after asking, then every 100 ms.
    yield* Effect.sleep(Duration.millis(100))
    yield* pollUntil(Client.activeState(path), (state) => state !== "Listening", {
      interval: Duration.millis(100),
      timeout: Duration.seconds(options.maxWait)
    }).pipe(Effect.mapError(() => new DaemonStopError({ path, maxWait: options.maxWait })))
  })
