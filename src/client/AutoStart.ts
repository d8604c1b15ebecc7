/**
 * Starting a daemon on demand, as Git starts its fsmonitor daemon: a
 * request that finds no server (`PathNotFound`, `NotListening`) starts one,
 * waits until it listens, and is sent again.
 *
 * Many clients may race to start the same daemon; each may start one, but
 * the server's startup lock and its "address in use" check let only one of
 * them listen, and the others exit. Every client just waits for the path to
 * be listening, whoever won.
 *
 * {@link make} and {@link layer} give the plain client's `IpcClient`
 * service with this behaviour: a program written against it runs
 * unchanged with either.
 *
 * @since 0.1.0
 */
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Data from "effect/Data"
import * as Stream from "effect/Stream"
import { spawn } from "node:child_process"
import * as ByteClient from "./Client.ts"

/**
 * How to start the daemon. The command runs detached from this process,
 * in its own session, with no standard input or output: it outlives the
 * client that started it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends ByteClient.RequestOptions {
  /** The program to run, e.g. `process.execPath`. */
  readonly command: string
  readonly args?: ReadonlyArray<string> | undefined
  readonly cwd?: string | undefined
  readonly env?: NodeJS.ProcessEnv | undefined
  /** How long to wait for the path to be listening once started. Default 10 s. */
  readonly startTimeout?: Duration.Input | undefined
  /** How often to probe the path meanwhile. Default 50 ms. */
  readonly pollInterval?: Duration.Input | undefined
  /**
   * After the daemon we started exits, how long to keep waiting for the
   * path to be listening. When several clients race to start a daemon, the
   * losers' daemons exit ("address in use", the winner already listens, or
   * after the lock's 100 ms while the winner binds); past this, the daemon
   * itself is failing. Default 1 s; 0 reports the exit at once.
   */
  readonly exitGrace?: Duration.Input | undefined
}

/**
 * The daemon could not be started.
 *
 * `SpawnFailed`: the command could not be run. `Exited`: the daemon we
 * started exited and no server came up. `Timeout`: nothing listened at the
 * path in time. `Unreachable`: the path is something no daemon can listen
 * on (not a socket), or cannot be probed. `cause` is the system's error,
 * for `SpawnFailed`.
 *
 * @since 0.1.0
 * @category errors
 */
export class AutoStartError extends Data.TaggedError("AutoStartError")<{
  readonly path: string
  readonly command: string
  readonly reason: "SpawnFailed" | "Exited" | "Timeout" | "Unreachable"
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    switch (this.reason) {
      case "SpawnFailed":
        return `could not start '${this.command}' for '${this.path}': ${this.detail}`
      case "Exited":
        return `'${this.command}' ${this.detail} and nothing listens at '${this.path}'; run it by hand to see why`
      case "Timeout":
        return `nothing listens at '${this.path}' ${this.detail} after starting '${this.command}'`
      case "Unreachable":
        return `cannot start a server at '${this.path}': ${this.detail}`
    }
  }
}

/**
 * Polls until `path` is listening; fails with `Timeout` when time is up.
 * A path that can never work (not a socket, say) fails at once with
 * `Unreachable`: waiting would not help.
 */
const waitListening = (path: string, command: string, interval: Duration.Input, total: Duration.Input) => {
  const check = Effect.flatMap(ByteClient.activeState(path), (state): Effect.Effect<void, AutoStartError> => {
    switch (state) {
      case "Listening":
        return Effect.void
      case "NotListening":
      case "PathNotFound":
        return Effect.fail(
          new AutoStartError({ path, command, reason: "Timeout", detail: `within ${Duration.format(Duration.fromInputUnsafe(total))}` })
        )
      default:
        return Effect.fail(unreachable(path, command, state))
    }
  })
  // No time at all means one look: a schedule bounded by zero still
  // allows its first recurrence.
  if (Duration.isZero(Duration.fromInputUnsafe(total))) return check
  return check.pipe(
    Effect.retry({
      while: (error) => error.reason === "Timeout",
      schedule: Schedule.spaced(interval).pipe(Schedule.upTo({ duration: total }))
    })
  )
}

const unreachable = (path: string, command: string, reason: ByteClient.ConnectError["reason"]) =>
  new AutoStartError({
    path,
    command,
    reason: "Unreachable",
    detail: new ByteClient.ConnectError({ path, reason }).message
  })

interface Exit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** Spawns the daemon detached; succeeds once it runs, with a Deferred of its exit. */
const spawnDetached = (path: string, options: Options) =>
  Effect.callback<Deferred.Deferred<Exit>, AutoStartError>((resume) => {
    const exited = Deferred.makeUnsafe<Exit>()
    const child = spawn(options.command, options.args ?? [], {
      detached: true,
      stdio: "ignore",
      cwd: options.cwd,
      env: options.env,
      windowsHide: true
    })
    child.once("error", (error) =>
      resume(
        Effect.fail(
          new AutoStartError({ path, command: options.command, reason: "SpawnFailed", detail: error.message, cause: error })
        )
      ))
    child.once("spawn", () => {
      // The daemon must not keep this process alive, nor die with it.
      child.unref()
      resume(Effect.succeed(exited))
    })
    child.once("exit", (code, signal) => Deferred.doneUnsafe(exited, Effect.succeed({ code, signal })))
  })

/**
 * Starts the daemon and waits until `path` is listening (the daemon we
 * started, or one another client started meanwhile).
 *
 * @since 0.1.0
 * @category running
 */
export const start = (path: string, options: Options): Effect.Effect<void, AutoStartError> =>
  Effect.gen(function*() {
    const exited = yield* spawnDetached(path, options)
    const interval = options.pollInterval ?? Duration.millis(50)
    // Done when the path listens; failed when time runs out, or once our
    // daemon has exited and no other one listens within the grace period.
    yield* Effect.raceFirst(
      waitListening(path, options.command, interval, options.startTimeout ?? Duration.seconds(10)),
      Effect.flatMap(Deferred.await(exited), (exit) =>
        Effect.mapError(
          waitListening(path, options.command, interval, options.exitGrace ?? Duration.seconds(1)),
          (error) =>
            error.reason === "Timeout"
              ? new AutoStartError({
                path,
                command: options.command,
                reason: "Exited",
                detail: exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`
              })
              : error
        ))
    )
  })

/**
 * Whether a server accepts at `path`, giving one that refuses for being
 * busy (a full backlog) the usual second to accept. A missing path fails at
 * once.
 */
const accepts = (path: string) =>
  Effect.scoped(ByteClient.connect(path, { waitIfBusy: true })).pipe(
    Effect.as(true),
    Effect.catch(() => Effect.succeed(false))
  )

/**
 * Makes sure a server listens at `path`: returns at once if one does,
 * otherwise starts the daemon (see {@link start}). A socket nobody accepts
 * on is given a second first: a busy server refuses too, and starting a
 * second one would not help it.
 *
 * @since 0.1.0
 * @category running
 */
export const ensureRunning = (path: string, options: Options): Effect.Effect<void, AutoStartError> =>
  Effect.flatMap(ByteClient.activeState(path), (state) => {
    switch (state) {
      case "Listening":
        return Effect.void
      case "NotListening":
      case "PathNotFound":
        return Effect.flatMap(accepts(path), (up) => up ? Effect.void : start(path, options))
      case "InvalidPath":
      case "OtherError":
        return Effect.fail(unreachable(path, options.command, state))
    }
  })

/** Connection failures that mean "no daemon yet", as opposed to a broken path. */
const notRunning = (error: unknown): error is ByteClient.ConnectError =>
  error instanceof ByteClient.ConnectError && (error.reason === "PathNotFound" || error.reason === "NotListening")

/**
 * One round trip (see {@link ByteClient.request}); if no server is there,
 * starts the daemon and sends the request again.
 *
 * @since 0.1.0
 * @category running
 */
export const request = (
  path: string,
  request: Uint8Array | string,
  options: Options
): Effect.Effect<Uint8Array, ByteClient.ConnectError | ByteClient.RequestError | AutoStartError> =>
  ByteClient.request(path, request, options).pipe(
    Effect.catchIf(notRunning, () => Effect.andThen(ensureRunning(path, options), ByteClient.request(path, request, options)))
  )

/**
 * One round trip with a streamed response (see
 * {@link ByteClient.requestStream}); if no server is there, starts the
 * daemon and sends the request again. Connecting fails before any of the
 * response arrives, so nothing is received twice.
 *
 * @since 0.1.0
 * @category running
 */
export const requestStream = (
  path: string,
  request: Uint8Array | string,
  options: Options
): Stream.Stream<Uint8Array, ByteClient.ConnectError | ByteClient.RequestError | AutoStartError> =>
  ByteClient.requestStream(path, request, options).pipe(
    Stream.catchIf(notRunning, () =>
      Stream.unwrap(Effect.as(ensureRunning(path, options), ByteClient.requestStream(path, request, options))))
  )

/**
 * One round trip whose response is lent to `f` piece by piece (see
 * {@link ByteClient.requestForEach}, and its rule: `f` copies what it
 * keeps); if no server is there, starts the daemon and sends the request
 * again, before `f` has seen any piece.
 *
 * @since 0.2.0
 * @category running
 */
export const requestForEach = <E, R>(
  path: string,
  request: Uint8Array | string,
  f: (piece: Uint8Array) => Effect.Effect<void, E, R>,
  options: Options
): Effect.Effect<void, ByteClient.ConnectError | ByteClient.RequestError | AutoStartError | E, R> =>
  Effect.suspend(() => {
    // `f` may fail with a ConnectError of its own (a request it makes, say):
    // once it has been called, no failure is taken for a daemon not running.
    let handed = false
    const handing = (piece: Uint8Array) => {
      handed = true
      return f(piece)
    }
    return ByteClient.requestForEach(path, request, handing, options).pipe(
      Effect.catchIf(
        (error) => !handed && notRunning(error),
        () => Effect.andThen(ensureRunning(path, options), ByteClient.requestForEach(path, request, f, options))
      )
    )
  })

/** A failure to start the daemon, as opposed to one of the request itself. */
const isAutoStartError = (error: unknown): error is AutoStartError => error instanceof AutoStartError

/**
 * A daemon that could not be started, as the plain client's error: the
 * connection could not be made, for the reason `error` gives, which the
 * message carries and the cause keeps.
 */
const startFailed = (error: AutoStartError) =>
  new ByteClient.ConnectError({ path: error.path, reason: "OtherError", detail: error.message, cause: error })

/**
 * The {@link ByteClient.IpcClient} service for the server at `path`, which
 * starts the daemon when it is not running: the plain client's service,
 * usable wherever that one is, as an RPC client's transport too. Its
 * errors are the plain client's: a daemon that cannot be started fails a
 * request with a `ConnectError` of reason `OtherError` whose message says
 * why and whose `cause` is the {@link AutoStartError} ({@link request} and
 * its siblings fail with the `AutoStartError` itself).
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { Rpc, RpcClient, RpcGroup } from "effect/rpc"
 * import { AutoStart, SimpleIpcRpc } from "effect-simple-ipc"
 *
 * class Calculator extends RpcGroup.make(
 *   Rpc.make("Divide", { payload: { a: Schema.Number, b: Schema.Number }, success: Schema.Number }),
 *   Rpc.make("Count", { payload: { to: Schema.Int }, success: Schema.Int, stream: true })
 * ) {}
 *
 * const program = Effect.gen(function*() {
 *   const daemon = AutoStart.make("/tmp/calc.sock", { command: process.execPath, args: ["calc-daemon.js"] })
 *   const protocol = yield* SimpleIpcRpc.makeProtocolClient(daemon, { group: Calculator })
 *   const calculator = yield* RpcClient.make(Calculator).pipe(Effect.provideService(RpcClient.Protocol, protocol))
 *   return yield* calculator.Divide({ a: 1, b: 4 })
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (path: string, options: Options): ByteClient.IpcClient["Service"] =>
  ByteClient.IpcClient.of({
    path,
    activeState: ByteClient.activeState(path),
    request: (bytes) =>
      Effect.catchIf(request(path, bytes, options), isAutoStartError, (error) => Effect.fail(startFailed(error))),
    requestStream: (bytes) =>
      Stream.catchIf(requestStream(path, bytes, options), isAutoStartError, (error) => Stream.fail(startFailed(error))),
    requestForEach: (bytes, f) =>
      Effect.catchIf(requestForEach(path, bytes, f, options), isAutoStartError, (error) => Effect.fail(startFailed(error)))
  })

/**
 * A layer providing {@link ByteClient.IpcClient} for the server at `path`,
 * starting the daemon when it is not running (see {@link make}): a program
 * that reads `IpcClient` runs unchanged with it or with `Client.layer`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { AutoStart, Client } from "effect-simple-ipc"
 *
 * const program = Effect.gen(function*() {
 *   const client = yield* Client.IpcClient
 *   return yield* client.request("ping")
 * })
 * // The first request starts the daemon if it is not running.
 * const runnable = program.pipe(
 *   Effect.provide(AutoStart.layer("/tmp/app.sock", { command: process.execPath, args: ["app-daemon.js"] }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (path: string, options: Options): Layer.Layer<ByteClient.IpcClient> =>
  Layer.succeed(ByteClient.IpcClient, make(path, options))
