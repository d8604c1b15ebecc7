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
import * as Data from "effect/Data"
import * as Stream from "effect/Stream"
import * as Option from "effect/Option"
import { spawn } from "node:child_process"
import * as Lockfile from "../transport/Lockfile.ts"
import { startupLock } from "../transport/internal/listener.ts"
import * as fs from "node:fs"
import { errnoOf } from "../internal/Bytes.ts"
import { pollUntil } from "../internal/Poll.ts"
import * as ByteClient from "./Client.ts"
import * as Control from "./Control.ts"

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
  /**
   * The daemon this client requires, and what to do when another one
   * answers (an older version left running after an upgrade, say): see
   * {@link IdentityPolicy}. Default: any daemon will do.
   */
  readonly identity?: IdentityPolicy | undefined

  // What the daemon says.

  /**
   * A file that receives the daemon's standard output and error, appended
   * to (made with mode 0600): when the daemon exits or never listens, the
   * error quotes its last lines, so a failed start says why. Without it
   * the daemon's output is discarded. Racing clients may name the same
   * file; their daemons' lines then mix in it.
   */
  readonly logFile?: string | undefined
  /**
   * A log file larger than this when a daemon is started is moved to
   * `<logFile>.1` (replacing the one before), and the daemon starts a new
   * one: the log holds what the current daemon wrote, and at most about
   * twice this is kept. Default 1 MiB.
   */
  readonly logMaxBytes?: number | undefined
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
  /** For `Exited`: how the daemon ended, its exit code or the signal that killed it. */
  readonly exit?: DaemonExit | undefined
  /** For `Exited` and `Timeout`: the last lines the daemon wrote to its log, oldest first. */
  readonly output?: ReadonlyArray<string> | undefined
  /** The log file the daemon's output went to (see {@link Options.logFile}). */
  readonly logFile?: string | undefined
}> {
  override get message(): string {
    switch (this.reason) {
      case "SpawnFailed":
        return `could not start '${this.command}' for '${this.path}': ${this.detail}`
      case "Exited":
        return `'${this.command}' ${this.detail} and nothing listens at '${this.path}'${this.said()}`
      case "Timeout":
        return `nothing listens at '${this.path}' ${this.detail} after starting '${this.command}'${this.said()}`
      case "Unreachable":
        return `cannot start a server at '${this.path}': ${this.detail}`
    }
  }

  /** What the daemon said, or where to look. */
  private said(): string {
    if (this.logFile === undefined) return "; run it by hand, or name a logFile, to see why"
    if (this.output === undefined || this.output.length === 0) return `; it wrote nothing to its log '${this.logFile}'`
    return `; the last lines of its log '${this.logFile}':\n${this.output.map((line) => `  ${line}`).join("\n")}`
  }
}

/**
 * How a daemon ended: its exit code, or the signal that killed it.
 *
 * @since 0.2.0
 * @category models
 */
export interface DaemonExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/**
 * Waits until `path` is listening; fails with `Timeout` when time is up. A
 * path that can never work (not a socket, say) fails at once with
 * `Unreachable`: waiting would not help.
 */
const waitListening = (
  path: string,
  command: string,
  interval: Duration.Input,
  total: Duration.Input
): Effect.Effect<void, AutoStartError> =>
  pollUntil(ByteClient.activeState(path), (state) => !isAbsent(state), { interval, timeout: total }).pipe(
    Effect.mapError((timedOut) =>
      new AutoStartError({ path, command, reason: "Timeout", detail: `within ${Duration.format(timedOut.timeout)}` })
    ),
    Effect.flatMap((state) => state === "Listening" ? Effect.void : Effect.fail(unreachable(path, command, state)))
  )

/**
 * Nothing listens at the path, but a daemon may: it is missing, or a
 * socket nobody accepts on (a dead daemon's, or a busy one's).
 */
const isAbsent = (state: ByteClient.ActiveState): boolean => state === "NotListening" || state === "PathNotFound"

const unreachable = (path: string, command: string, reason: ByteClient.ConnectError["reason"]) =>
  new AutoStartError({
    path,
    command,
    reason: "Unreachable",
    detail: new ByteClient.ConnectError({ path, reason }).message
  })

/** The daemon's log, open for it to write to: its descriptor, and where this daemon's lines begin. */
interface Log {
  readonly file: string
  readonly fd: number
  readonly start: number
}

/** The most lines of its log a failed start quotes. */
const TAIL_LINES = 20

/** The most bytes read from the end of a log to find them. */
const TAIL_BYTES = 64 * 1024

/**
 * Opens the daemon's log for appending, for the life of the scope (the
 * daemon gets its own copy of the descriptor), first moving a log larger
 * than `maxBytes` aside to `<file>.1`.
 */
const openLog = (path: string, options: Options, file: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: (): Log => {
        const maxBytes = options.logMaxBytes ?? 1024 * 1024
        const size = fs.statSync(file, { throwIfNoEntry: false })?.size ?? 0
        if (size > maxBytes) {
          try {
            fs.renameSync(file, `${file}.1`)
          } catch (error) {
            // Another client starting a daemon moved it first.
            if (errnoOf(error) !== "ENOENT") throw error
          }
        }
        // Read as well as appended to: the failure's explanation is read back through it.
        const fd = fs.openSync(file, "a+", 0o600)
        return { file, fd, start: fs.fstatSync(fd).size }
      },
      catch: (error) =>
        new AutoStartError({
          path,
          command: options.command,
          reason: "SpawnFailed",
          detail: `cannot open its log file '${file}': ${(error as Error).message}`,
          cause: error,
          logFile: file
        })
    }),
    (log) => Effect.sync(() => fs.closeSync(log.fd))
  )

/**
 * The last lines the daemon wrote to its log since it started (at most
 * {@link TAIL_LINES}); none when the log cannot be read. Read through our
 * own descriptor: the file the daemon writes to, even if another start has
 * moved it aside since.
 */
const tailOf = (log: Log): ReadonlyArray<string> => {
  try {
    const end = fs.fstatSync(log.fd).size
    const start = Math.min(Math.max(log.start, end - TAIL_BYTES), end)
    const buffer = Buffer.alloc(end - start)
    fs.readSync(log.fd, buffer, 0, buffer.length, start)
    return buffer.toString("utf8").split(/\r?\n/).filter((line) => line.trim().length > 0).slice(-TAIL_LINES)
  } catch {
    return []
  }
}

/** Spawns the daemon detached; succeeds once it runs, with a Deferred of its exit. */
const spawnDetached = (path: string, options: Options, log: Log | undefined) =>
  Effect.callback<{ readonly pid: number; readonly exited: Deferred.Deferred<DaemonExit> }, AutoStartError>((resume) => {
    const exited = Deferred.makeUnsafe<DaemonExit>()
    const child = spawn(options.command, options.args ?? [], {
      detached: true,
      stdio: log === undefined ? "ignore" : ["ignore", log.fd, log.fd],
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
      resume(Effect.succeed({ pid: child.pid!, exited }))
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
  Effect.scoped(Effect.gen(function*() {
    const log = options.logFile === undefined ? undefined : yield* openLog(path, options, options.logFile)
    const { exited, pid } = yield* spawnDetached(path, options, log)
    const interval = options.pollInterval ?? Duration.millis(50)
    // Done when the path listens; failed when time runs out, or once our
    // daemon has exited and no other one listens within the grace period.
    yield* Effect.raceFirst(
      Effect.mapError(
        waitListening(path, options.command, interval, options.startTimeout ?? Duration.seconds(10)),
        (error) => error.reason === "Timeout" ? explained(error, log, `(pid ${pid}, still running)`) : error
      ),
      Effect.flatMap(Deferred.await(exited), (exit) =>
        Effect.mapError(
          waitListening(path, options.command, interval, options.exitGrace ?? Duration.seconds(1)),
          (error) =>
            error.reason === "Timeout"
              ? explained(
                new AutoStartError({ path, command: options.command, reason: "Exited", detail: describeExit(exit), exit }),
                log
              )
              : error
        ))
    )
  }))

/** How the daemon ended, in words. */
const describeExit = (exit: DaemonExit): string =>
  exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`

/** A failed start with what its daemon wrote to its log, if it has one. */
const explained = (error: AutoStartError, log: Log | undefined, note?: string): AutoStartError =>
  new AutoStartError({
    path: error.path,
    command: error.command,
    reason: error.reason,
    detail: note === undefined ? error.detail : `${error.detail} ${note}`,
    exit: error.exit,
    ...(log === undefined ? {} : { logFile: log.file, output: tailOf(log) })
  })

/**
 * What is at `path`, in one look: a connection, closed at once without
 * sending anything (as {@link ByteClient.activeState} makes), that waits
 * while the server is busy (see {@link ensureRunning}). A missing path is
 * answered at once.
 */
const probe = (path: string): Effect.Effect<ByteClient.ActiveState> =>
  Effect.scoped(ByteClient.connect(path, { waitIfBusy: true })).pipe(
    Effect.as<ByteClient.ActiveState>("Listening"),
    Effect.catch((error) => Effect.succeed(error.reason))
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
  // One look decides, and is not repeated before the start: a daemon that
  // another client starts meanwhile does no harm, since ours then loses
  // the socket to it and `start` waits for whichever listens.
  Effect.flatMap(probe(path), (state) => {
    if (state === "Listening") return Effect.void
    if (isAbsent(state)) return start(path, options)
    return Effect.fail(unreachable(path, options.command, state))
  })

/**
 * The options of the request sent again once the daemon listens: a refusal
 * then is a full backlog (every client that raced to start the daemon
 * connects at once), not a missing daemon, so it waits while the server is
 * busy, as Git's client does.
 */
const onceStarted = (options: Options): Options => ({ ...options, waitIfBusy: true })

/** Connection failures that mean "no daemon yet", as opposed to a broken path. */
const notRunning = (error: unknown): error is ByteClient.ConnectError =>
  error instanceof ByteClient.ConnectError && isAbsent(error.reason)

/** What getting the daemon ready may fail with, besides the request's own failures. */
type StartFailure = AutoStartError | IdentityError | ByteClient.RequestTimeoutError

/**
 * How a client gets its daemon ready, failing with `F`: `checked` runs
 * before each request (the identity check, if the options ask for one),
 * `started` once a request has found no daemon. `started` checks the
 * identity too: the daemon listening after a start may be another
 * starter's, an older client's say, which won the socket. The request
 * functions fail with this module's errors; {@link make}'s client with the
 * plain client's.
 */
interface Daemon<F> {
  readonly checked: Effect.Effect<void, F>
  readonly started: Effect.Effect<void, F>
}

/**
 * The request functions' daemon: the identity checked before every
 * request. Each step is built only when it runs: most requests find their
 * daemon and start nothing.
 */
const daemonOf = (path: string, options: Options): Daemon<StartFailure> => ({
  checked: Effect.suspend(() => identified(path, options)),
  started: Effect.suspend(() => Effect.andThen(ensureRunning(path, options), identified(path, options)))
})

/**
 * What differs between a request answered as an effect and one answered as
 * a stream: running an effect first, and recovering from a failure.
 */
interface Sequencing<Out, F> {
  readonly after: (first: Effect.Effect<void, F>, then: Out) => Out
  readonly recover: (out: Out, when: (error: unknown) => boolean, orElse: () => Out) => Out
}

const effects = <A, E, R, F>(): Sequencing<Effect.Effect<A, E | F, R>, F> => ({
  after: (first, then) => Effect.andThen(first, then),
  recover: (out, when, orElse) => Effect.catchIf(out, when, orElse)
})

const streams = <A, E, R, F>(): Sequencing<Stream.Stream<A, E | F, R>, F> => ({
  after: (first, then) => Stream.unwrap(Effect.as(first, then)),
  recover: (out, when, orElse) => Stream.catchIf(out, when, orElse)
})

/**
 * The one path of every request this module sends: the daemon is checked,
 * the request sent once by `send`; if that finds no daemon, the daemon is
 * started and the request sent once more (waiting while the new daemon is
 * busy, see {@link onceStarted}).
 *
 * Only a request that was not sent is sent again: a refused connection or
 * a missing socket fails before anything goes out, while a daemon that got
 * the request may have acted on it (stopped, written something) before its
 * answer failed, and resending a request is not always safe. `unsent` says
 * whether a failure now can still be one from before the request went out.
 */
const sendStarting = <Out, F>(
  sequencing: Sequencing<Out, F>,
  daemon: Daemon<F>,
  options: Options,
  send: (options: Options) => Out,
  unsent: () => boolean = () => true
): Out =>
  sequencing.after(
    daemon.checked,
    sequencing.recover(
      send(options),
      (error) => unsent() && notRunning(error),
      () => sequencing.after(daemon.started, send(onceStarted(options)))
    )
  )

/**
 * `requestForEach` through {@link sendStarting}: `f` may fail with a
 * ConnectError of its own (a request it makes, say), so once it has been
 * handed a piece, the request was sent and no failure is taken for a
 * daemon not running.
 */
const forEachStarting = <E, R, F>(
  daemon: Daemon<F>,
  path: string,
  request: Uint8Array | string,
  f: (piece: Uint8Array) => Effect.Effect<void, E, R>,
  options: Options
): Effect.Effect<void, ByteClient.ConnectError | ByteClient.RequestError | E | F, R> =>
  Effect.suspend(() => {
    let handed = false
    const handing = (piece: Uint8Array) => {
      handed = true
      return f(piece)
    }
    return sendStarting(
      effects<void, ByteClient.ConnectError | ByteClient.RequestError | E, R, F>(),
      daemon,
      options,
      (options) => ByteClient.requestForEach(path, request, handing, options),
      () => !handed
    )
  })

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
): Effect.Effect<Uint8Array, ByteClient.ConnectError | ByteClient.RequestError | AutoStartError | IdentityError> =>
  sendStarting(effects(), daemonOf(path, options), options, (options) => ByteClient.request(path, request, options))

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
): Stream.Stream<Uint8Array, ByteClient.ConnectError | ByteClient.RequestError | AutoStartError | IdentityError> =>
  sendStarting(streams(), daemonOf(path, options), options, (options) => ByteClient.requestStream(path, request, options))

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
): Effect.Effect<void, ByteClient.ConnectError | ByteClient.RequestError | AutoStartError | IdentityError | E, R> =>
  forEachStarting(daemonOf(path, options), path, request, f, options)

/** A failure to start the daemon (or the one required), as opposed to one of the request itself. */
const isAutoStartError = (error: unknown): error is AutoStartError | IdentityError =>
  error instanceof AutoStartError || error instanceof IdentityError

/**
 * A daemon that could not be started, as the plain client's error: the
 * connection could not be made, for the reason `error` gives, which the
 * message carries and the cause keeps.
 */
const startFailed = (error: AutoStartError | IdentityError) =>
  new ByteClient.ConnectError({ path: error.path, reason: "OtherError", detail: error.message, cause: error })

/** A failure to get the daemon ready, as the plain client's error (a timeout already is one). */
const asPlainError = (error: StartFailure): ByteClient.ConnectError | ByteClient.RequestTimeoutError =>
  isAutoStartError(error) ? startFailed(error) : error

/**
 * The {@link ByteClient.IpcClient} service for the server at `path`, which
 * starts the daemon when it is not running: the plain client's service,
 * usable wherever that one is, as an RPC client's transport too. Its
 * errors are the plain client's: a daemon that cannot be started fails a
 * request with a `ConnectError` of reason `OtherError` whose message says
 * why and whose `cause` is the {@link AutoStartError} ({@link request} and
 * its siblings fail with the `AutoStartError` itself), and so does a daemon
 * of the wrong identity, with the {@link IdentityError} as the cause. With
 * {@link Options.identity}, the daemon's identity is checked at this
 * client's first request, and again only if that check failed.
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
export const make = (path: string, options: Options): ByteClient.IpcClient["Service"] => {
  // Whether this client's identity check has passed: its later requests
  // skip it. The mark is this client's alone and goes with it. A check that
  // fails is made again at the next request; a check that restarts the
  // daemon looks at the new one before it passes; a daemon started because
  // a request found none is checked before the request is sent to it.
  let verified = false
  const checkedOnce = Effect.suspend(() =>
    verified ? Effect.void : Effect.tap(identified(path, options), () =>
      Effect.sync(() => {
        verified = true
      }))
  )
  const daemon: Daemon<ByteClient.ConnectError | ByteClient.RequestTimeoutError> = {
    checked: Effect.mapError(checkedOnce, asPlainError),
    started: Effect.mapError(
      Effect.andThen(ensureRunning(path, options), Effect.suspend(() => {
        verified = false
        return checkedOnce
      })),
      asPlainError
    )
  }
  return ByteClient.IpcClient.of({
    path,
    activeState: ByteClient.activeState(path),
    request: (bytes) => sendStarting(effects(), daemon, options, (options) => ByteClient.request(path, bytes, options)),
    requestStream: (bytes) =>
      sendStarting(streams(), daemon, options, (options) => ByteClient.requestStream(path, bytes, options)),
    requestForEach: (bytes, f) => forEachStarting(daemon, path, bytes, f, options)
  })
}

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

// The identity handshake: a client that requires a daemon of a given
// identity checks it before its request, and restarts (or refuses) another.

/**
 * The daemon a client requires (`expected`, compared by
 * `compatible`), and what it does when another answers (`onMismatch`):
 *
 * - `"restart"` (the default): ask the running daemon to stop with
 *   `stopRequest`, wait until it no longer listens, and start ours. The
 *   restart is made under the socket's start-up lock (`<path>.lock`, the
 *   lock a starting server takes), and the running daemon's identity is
 *   looked at again once the lock is held: among clients racing to restart
 *   the same daemon, one asks it to stop and the others find it gone or
 *   replaced, and no daemon can start meanwhile. As ever, one started
 *   daemon wins the socket.
 * - `"fail"`: fail with an {@link IdentityError} naming both identities.
 *
 * A daemon that declares no identity (started without the server's
 * `identity` option, or built before it) is never compatible: its identity
 * is unknown.
 *
 * @since 0.2.0
 * @category models
 */
export interface IdentityPolicy {
  /** The identity this client was built for: the server's `identity` option of the daemon it starts. */
  readonly expected: Control.Declared
  /**
   * Whether a running daemon will do. Default: its name, version and
   * protocol are `expected`'s.
   */
  readonly compatible?: ((running: Control.Identity) => boolean) | undefined
  /** Default `"restart"`. */
  readonly onMismatch?: "restart" | "fail" | undefined
  /**
   * The request the daemon's application answers by stopping (with
   * `Server.Quit`, or by calling its server's `stop`). Default `quit`, the
   * request Git's test daemon and `simple-ipc stop-daemon` use.
   */
  readonly stopRequest?: Uint8Array | string | undefined
  /**
   * How long a restart waits for the old daemon to stop listening once
   * asked, and for another client's restart to finish; and how long a
   * daemon has to answer the identity request (unless the request's own
   * `timeout` is set). Default 10 s.
   */
  readonly stopTimeout?: Duration.Input | undefined
}

/**
 * The daemon at `path` is not the one this client requires.
 *
 * `Mismatch`: another daemon answers (`running`; `undefined` when it
 * declares no identity), and the policy is `"fail"`, or our own start
 * still left another one answering (`restarted`). `StillRunning`: the
 * daemon was asked to stop and still listens after `stopTimeout` (or
 * another client's restart held the start-up lock that long).
 *
 * @since 0.2.0
 * @category errors
 */
export class IdentityError extends Data.TaggedError("IdentityError")<{
  readonly path: string
  readonly reason: "Mismatch" | "StillRunning"
  readonly expected: Control.Declared
  readonly running: Control.Identity | undefined
  readonly restarted: boolean
  readonly detail?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    const running = Control.formatIdentity(this.running)
    const expected = Control.formatIdentity(this.expected)
    switch (this.reason) {
      case "Mismatch":
        return this.restarted
          ? `the daemon at '${this.path}' is ${running} even after a restart, not ${expected}; check what starts it`
          : `the daemon at '${this.path}' is ${running}, not ${expected} as this client requires; stop it, or let clients restart it (onMismatch: "restart")`
      case "StillRunning":
        return `asked the daemon at '${this.path}' (${running}) to stop, to start ${expected} in its place, but ${this.detail}; stop it by hand`
    }
  }
}

/** What answers at a path: nobody, or a daemon with or without an identity. */
type Found =
  | { readonly _tag: "Absent" }
  | { readonly _tag: "Running"; readonly identity: Option.Option<Control.Identity> }

const absent: Found = { _tag: "Absent" }

/**
 * What answers at `path`. A daemon gets `stopTimeout` to answer (unless
 * the request's own `timeout` says otherwise): one that never does fails
 * with `RequestTimeoutError` rather than holding the client for ever.
 */
const lookUp = (
  path: string,
  options: Options,
  policy: IdentityPolicy
): Effect.Effect<Found, AutoStartError | ByteClient.RequestTimeoutError> =>
  Control.identity(path, { ...options, timeout: options.timeout ?? stopTimeoutOf(policy) }).pipe(
    Effect.map((identity): Found => ({ _tag: "Running", identity })),
    Effect.catchTag("ConnectError", (error) => {
      const { reason } = error
      return notRunning(error) ? Effect.succeed(absent) : Effect.fail(unreachable(path, options.command, reason))
    })
  )

const sameDeclared = (expected: Control.Declared) => (running: Control.Identity): boolean =>
  running.name === expected.name && running.version === expected.version && running.protocol === expected.protocol

const isCompatible = (policy: IdentityPolicy, found: Found): boolean =>
  found._tag === "Running" && Option.match(found.identity, {
    onNone: () => false,
    onSome: policy.compatible ?? sameDeclared(policy.expected)
  })

const runningOf = (found: Found): Control.Identity | undefined =>
  found._tag === "Running" ? Option.getOrUndefined(found.identity) : undefined

const stopTimeoutOf = (policy: IdentityPolicy) => Duration.fromInputUnsafe(policy.stopTimeout ?? Duration.seconds(10))

/**
 * Waits until nothing listens at `path`; fails with `StillRunning` when
 * time is up.
 */
const waitGone = (path: string, options: Options, policy: IdentityPolicy, running: Control.Identity | undefined) =>
  pollUntil(ByteClient.activeState(path), (state) => state !== "Listening", {
    interval: options.pollInterval ?? Duration.millis(50),
    timeout: stopTimeoutOf(policy)
  }).pipe(
    Effect.mapError((timedOut) =>
      new IdentityError({
        path,
        reason: "StillRunning",
        expected: policy.expected,
        running,
        restarted: false,
        detail: `it still listens after ${Duration.format(timedOut.timeout)}`
      })
    )
  )

/**
 * Asks the daemon at `path` to stop and waits until it no longer listens,
 * under the start-up lock, unless what answers once the lock is held will
 * do (another client restarted it) or nothing does.
 */
const restart = (path: string, options: Options, policy: IdentityPolicy) =>
  Effect.scoped(Effect.gen(function*() {
    yield* Lockfile.acquire(startupLock(path), { timeout: stopTimeoutOf(policy), guarding: path }).pipe(
      Effect.mapError((error) =>
        new IdentityError({
          path,
          reason: "StillRunning",
          expected: policy.expected,
          running: undefined,
          restarted: false,
          detail: `the start-up lock could not be taken: ${error.message}`,
          cause: error
        })
      )
    )
    const found = yield* lookUp(path, options, policy)
    if (found._tag === "Absent" || isCompatible(policy, found)) return
    // A daemon that quits may close the connection before its answer's
    // end, or never answer; whether it stops is what counts, and waitGone
    // sees it.
    const stopping = { ...options, timeout: options.timeout ?? stopTimeoutOf(policy) }
    yield* Effect.ignore(ByteClient.request(path, policy.stopRequest ?? "quit", stopping))
    yield* waitGone(path, options, policy, runningOf(found))
  }))

/**
 * Makes sure the daemon at `path` is one `policy` accepts, starting one
 * when none runs and restarting (at most once) or refusing another.
 */
const settle = (
  path: string,
  options: Options,
  policy: IdentityPolicy,
  round: { readonly restarted: boolean; readonly started: boolean }
): Effect.Effect<void, AutoStartError | IdentityError | ByteClient.RequestTimeoutError> =>
  Effect.flatMap(lookUp(path, options, policy), (found) => {
    if (isCompatible(policy, found)) return Effect.void
    if (found._tag === "Absent") {
      if (round.started) {
        return Effect.fail(
          new AutoStartError({ path, command: options.command, reason: "Exited", detail: "stopped listening as soon as it had started" })
        )
      }
      return Effect.andThen(ensureRunning(path, options), settle(path, options, policy, { ...round, started: true }))
    }
    if (policy.onMismatch === "fail" || round.restarted) {
      return Effect.fail(
        new IdentityError({ path, reason: "Mismatch", expected: policy.expected, running: runningOf(found), restarted: round.restarted })
      )
    }
    return Effect.andThen(restart(path, options, policy), settle(path, options, policy, { restarted: true, started: false }))
  })

/**
 * Makes sure the daemon at `path` is one this client accepts (see
 * {@link IdentityPolicy}), starting, restarting or refusing it; does
 * nothing without {@link Options.identity}. The request functions do this
 * before each request; {@link make}'s client once.
 *
 * @since 0.2.0
 * @category running
 */
export const identified = (
  path: string,
  options: Options
): Effect.Effect<void, AutoStartError | IdentityError | ByteClient.RequestTimeoutError> => {
  const policy = options.identity
  return policy === undefined ? Effect.void : settle(path, options, policy, { restarted: false, started: false })
}
