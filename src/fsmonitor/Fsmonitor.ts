/**
 * Git's builtin filesystem monitor, from Effect.
 *
 * `git status` asks `git fsmonitor--daemon` which paths changed since a
 * token, over Simple IPC at `<git-dir>/fsmonitor--daemon.ipc`, and trusts
 * the answer. The client half of this module asks the same question for
 * any program (a test runner, a build tool, an editor): {@link query} a
 * token, {@link flush}, {@link stop}, or follow the {@link changes} as a
 * Stream; {@link make} finds a worktree's daemon as Git does and can start
 * it.
 *
 * The server half is the protocol's answering side, for a daemon of one's
 * own: a {@link Journal} of change batches with Git's token scheme
 * (`<prefix>:<id>:<seq>`), and a {@link handler} that answers queries from
 * it in Git's layout, handles `flush` and `quit`, and gives any token it
 * cannot vouch for the trivial answer ("everything may have changed").
 *
 * The wire: the request is the token alone; the answer is `<token>` NUL,
 * then either `/` NUL or one `<path>` NUL per changed path (worktree
 * relative, `/`-separated; a trailing `/` marks a directory whose whole
 * contents changed), then a flush.
 *
 * @since 0.2.0
 */
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as AutoStart from "../client/AutoStart.ts"
import * as Client from "../client/Client.ts"
import * as PktLine from "../framing/PktLine.ts"
import { pollUntil } from "../internal/Poll.ts"
import * as Server from "../server/Server.ts"
import type * as Connection from "../transport/Connection.ts"
import * as Codec from "./internal/codec.ts"
import * as Repository from "./internal/repository.ts"

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/**
 * A daemon's answer to a query: the token to ask with next, and either
 * `Trivial` (everything may have changed: rescan) or `Changed` with the
 * paths that changed since the token asked with (possibly none).
 *
 * @since 0.2.0
 * @category models
 */
export type Answer =
  | { readonly _tag: "Trivial"; readonly token: string }
  | { readonly _tag: "Changed"; readonly token: string; readonly paths: ReadonlyArray<string> }

/**
 * A token of the form `<prefix>:<id>:<seq>`.
 *
 * @since 0.2.0
 * @category models
 */
export interface Token {
  readonly prefix: string
  readonly id: string
  readonly seq: number
}

/**
 * Why an answer that arrived whole is not a valid answer: no token (or an
 * empty one), an empty path, a last path without its NUL, `/` with other
 * paths, a path that is not worktree-relative, or bytes that are not UTF-8.
 *
 * @since 0.2.0
 * @category errors
 */
export type DecodeFailure =
  | "MissingToken"
  | "EmptyPath"
  | "UnterminatedPath"
  | "TrivialNotAlone"
  | "AbsolutePath"
  | "InvalidUtf8"

/**
 * What Git sends when it has no token to ask with (its index has none, or
 * its last query failed): no daemon can vouch for it, so the answer is
 * trivial and carries the daemon's current token.
 *
 * @since 0.2.0
 * @category constants
 */
export const unknownToken = "builtin:fake"

/**
 * Whether a path of an answer names a directory whose whole contents
 * changed (Git marks those with a trailing `/`).
 *
 * @since 0.2.0
 * @category predicates
 */
export const isDirectory = (path: string): boolean => path.endsWith("/")

/**
 * The trivial answer with `token`.
 *
 * @example
 * ```ts
 * import { Fsmonitor } from "effect-simple-ipc"
 *
 * // What a daemon answers a token it cannot vouch for.
 * const answer = Fsmonitor.trivial("builtin:0.4242.20260101T000000.000000Z:7")
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const trivial = (token: string): Answer => ({ _tag: "Trivial", token })

/**
 * The answer "these paths changed", with `token`.
 *
 * @example
 * ```ts
 * import { Fsmonitor } from "effect-simple-ipc"
 *
 * const answer = Fsmonitor.changed("builtin:0.4242.20260101T000000.000000Z:8", ["src/index.ts", "build/"])
 * const bytes = Fsmonitor.encodeAnswerMessage(answer)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const changed = (token: string, paths: ReadonlyArray<string>): Answer => ({ _tag: "Changed", token, paths })

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/**
 * Why a talk with a daemon failed.
 *
 * - `NotRunning`: nothing listens at the socket.
 * - `Unreachable`: the socket path cannot be used (not a socket, no
 *   permission).
 * - `RequestFailed`: the connection broke or timed out, or the answer was
 *   not valid pkt-line.
 * - `Incomplete`: the answer ended before its final flush.
 * - `MissingToken`, `EmptyPath`, `UnterminatedPath`, `TrivialNotAlone`,
 *   `AbsolutePath`, `InvalidUtf8`: the answer arrived whole but is not a
 *   valid answer (see {@link decodeAnswer}).
 * - `StopTimedOut`: the daemon was asked to quit and still listens.
 * - `StartFailed`: the daemon could not be started.
 * - `InvalidPath`: a path given to a {@link Journal} cannot be answered
 *   with (empty, absolute, or `/`).
 *
 * @since 0.2.0
 * @category errors
 */
export class FsmonitorError extends Data.TaggedError("FsmonitorError")<{
  /** The daemon's socket (empty for a {@link Journal}'s `InvalidPath`, which has none). */
  readonly path: string
  readonly reason:
    | "NotRunning"
    | "Unreachable"
    | "RequestFailed"
    | "Incomplete"
    | DecodeFailure
    | "StopTimedOut"
    | "StartFailed"
    | "InvalidPath"
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    switch (this.reason) {
      case "NotRunning":
        return `no fsmonitor daemon is running at '${this.path}' (start one with 'git fsmonitor--daemon start'): ${this.detail}`
      case "Unreachable":
        return `cannot reach the fsmonitor daemon at '${this.path}': ${this.detail}`
      case "RequestFailed":
        return `query to the fsmonitor daemon at '${this.path}' failed: ${this.detail}`
      case "Incomplete":
        return `the fsmonitor daemon at '${this.path}' answered without its final flush; nothing of it was used: ${this.detail}`
      case "StopTimedOut":
        return `the fsmonitor daemon at '${this.path}' was asked to quit and ${this.detail}`
      case "StartFailed":
        return `could not start an fsmonitor daemon for '${this.path}': ${this.detail}`
      case "InvalidPath":
        return `cannot record a change: ${this.detail}`
      default:
        return `the fsmonitor daemon at '${this.path}' sent a malformed answer (${this.reason}): ${this.detail}; nothing of it was used`
    }
  }
}

/**
 * The worktree's repository could not be read: `git` failed or could not
 * run (not a worktree, a bare repository, no `git`).
 *
 * @since 0.2.0
 * @category errors
 */
export class RepositoryError extends Data.TaggedError("RepositoryError")<{
  readonly worktree: string
  readonly reason: "GitFailed"
  readonly detail: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return `cannot find the fsmonitor socket of '${this.worktree}': ${this.detail}`
  }
}

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

/**
 * Decodes an answer's payload (the message, framing removed). Strict: a
 * missing or empty token, an empty or absolute path, a path without its
 * NUL, bytes that are not UTF-8, or `/` with other paths fails with a
 * {@link FsmonitorError} naming the fault; it never yields a wrong list.
 *
 * @since 0.2.0
 * @category decoding
 */
export const decodeAnswer = (path: string, payload: Uint8Array): Effect.Effect<Answer, FsmonitorError> =>
  Effect.suspend(() => {
    const decoded = Codec.decodeAnswer(payload)
    return decoded._tag === "Malformed"
      ? Effect.fail(new FsmonitorError({ path, reason: decoded.reason, detail: decoded.detail }))
      : Effect.succeed(decoded)
  })

/**
 * @since 0.2.0
 * @category models
 */
export interface QueryOptions {
  /** How long the round trip may take. Default: no limit, as Git waits. */
  readonly timeout?: Duration.Input | undefined
}

/** A failed connection, told apart by what is at the path now (not by the error's fields). */
const connectFailure = (path: string, error: Client.ConnectError) =>
  Effect.map(Client.activeState(path), (state) =>
    new FsmonitorError({
      path,
      reason: state === "NotListening" || state === "PathNotFound" ? "NotRunning" : "Unreachable",
      detail: error.message,
      cause: error
    }))

const isUnexpectedEnd = (error: Client.RequestError) => error._tag === "PktLineError" && error.reason === "UnexpectedEnd"

/** One round trip to the daemon at `path`, its errors as {@link FsmonitorError}s. */
const send = (path: string, request: string, options?: QueryOptions): Effect.Effect<Uint8Array, FsmonitorError> =>
  // Git's client waits while the daemon is busy, but not for a missing socket.
  Client.request(path, request, { waitIfBusy: true, ...(options?.timeout !== undefined ? { timeout: options.timeout } : {}) }).pipe(
    Effect.catch((error) =>
      error._tag === "ConnectError"
        ? Effect.flatMap(connectFailure(path, error), Effect.fail)
        : Effect.fail(
          new FsmonitorError({
            path,
            reason: isUnexpectedEnd(error) ? "Incomplete" : "RequestFailed",
            detail: error.message,
            cause: error
          })
        )
    )
  )

/**
 * Asks the daemon at `path` what changed since `token` (a token from an
 * earlier answer, or {@link unknownToken}).
 *
 * @since 0.2.0
 * @category requests
 */
export const query = (path: string, token: string, options?: QueryOptions): Effect.Effect<Answer, FsmonitorError> =>
  Effect.flatMap(send(path, token, options), (payload) => decodeAnswer(path, payload))

/**
 * Asks the daemon at `path` to drop what it knows and start a new token
 * (as after losing sync with the file system); the answer is trivial, with
 * the new token.
 *
 * @since 0.2.0
 * @category requests
 */
export const flush = (path: string, options?: QueryOptions): Effect.Effect<Answer, FsmonitorError> => query(path, "flush", options)

/**
 * Whether a daemon listens at `path`.
 *
 * @since 0.2.0
 * @category probing
 */
export const isRunning = (path: string): Effect.Effect<boolean> =>
  Effect.map(Client.activeState(path), (state) => state === "Listening")

/**
 * @since 0.2.0
 * @category models
 */
export interface StopOptions {
  /** How long to wait for the daemon to stop listening. Default 10 s; 0 looks once, without waiting. */
  readonly timeout?: Duration.Input | undefined
  /** How often to look meanwhile. Default 50 ms. */
  readonly pollInterval?: Duration.Input | undefined
}

/**
 * Sends `quit` to the daemon at `path`, then waits until it no longer
 * listens. Fails with `NotRunning` when no daemon was there.
 *
 * @since 0.2.0
 * @category requests
 */
export const stop = (path: string, options?: StopOptions): Effect.Effect<void, FsmonitorError> =>
  Effect.andThen(
    send(path, "quit"),
    pollUntil(isRunning(path), (running) => !running, {
      interval: options?.pollInterval ?? Duration.millis(50),
      timeout: options?.timeout ?? Duration.seconds(10)
    }).pipe(
      Effect.mapError((timedOut) =>
        new FsmonitorError({ path, reason: "StopTimedOut", detail: `still listens after ${Duration.format(timedOut.timeout)}` })
      ),
      Effect.asVoid
    )
  )

/**
 * One step of {@link changes}: `Rescan` when the daemon answered
 * trivially (everything may have changed since the last step: rescan,
 * then carry on from `token`), or `Changed` with the paths that changed.
 *
 * @since 0.2.0
 * @category models
 */
export type Change =
  | { readonly _tag: "Rescan"; readonly token: string }
  | { readonly _tag: "Changed"; readonly token: string; readonly paths: ReadonlyArray<string> }

/**
 * @since 0.2.0
 * @category models
 */
export interface ChangesOptions<E = never, R = never> {
  /**
   * The token to start from. Default {@link unknownToken}: the first element
   * is then a `Rescan` with the daemon's current token.
   */
  readonly since?: string | undefined
  /** When to ask again after the first query, made at once. Default every second. */
  readonly schedule?: Schedule.Schedule<unknown, unknown> | undefined
  /** Ask once per element of this stream instead of on a schedule (the caller drives). */
  readonly trigger?: Stream.Stream<unknown, E, R> | undefined
}

/** The element a step emits: nothing when nothing changed. */
const changeOf = (answer: Answer): ReadonlyArray<Change> =>
  answer._tag === "Trivial"
    ? [{ _tag: "Rescan", token: answer.token }]
    : answer.paths.length === 0
    ? []
    : [{ _tag: "Changed", token: answer.token, paths: answer.paths }]

const changesWith = <E, R>(
  ask: (token: string) => Effect.Effect<Answer, FsmonitorError>,
  options?: ChangesOptions<E, R>
): Stream.Stream<Change, FsmonitorError | E, R> => {
  const ticks: Stream.Stream<unknown, E, R> = options?.trigger ??
    Stream.concat(Stream.succeed(undefined), Stream.fromSchedule(options?.schedule ?? Schedule.spaced(Duration.seconds(1))))
  return Stream.mapAccumEffect(
    ticks,
    () => options?.since ?? unknownToken,
    (token) => Effect.map(ask(token), (answer) => [answer.token, changeOf(answer)] as const)
  )
}

/**
 * The changes the daemon at `path` reports, as a Stream: a query at once,
 * then one per tick of `schedule` (or per element of `trigger`), each from
 * the token the last answer gave. Quiet steps emit nothing. Interrupting
 * the stream cuts the query in flight.
 *
 * @since 0.2.0
 * @category streams
 */
export const changes = <E = never, R = never>(
  path: string,
  options?: ChangesOptions<E, R>
): Stream.Stream<Change, FsmonitorError | E, R> => changesWith((token) => query(path, token), options)

// ---------------------------------------------------------------------------
// A worktree's daemon
// ---------------------------------------------------------------------------

/**
 * @since 0.2.0
 * @category models
 */
export interface LocateOptions {
  /** The `git` executable. Default `git`. */
  readonly git?: string | undefined
  /**
   * Whether the git directory is on a network file system, where Git puts
   * the socket in `fsmonitor.socketDir` (or the home directory) instead.
   * Default: read from `statfs` on Linux, else `false`.
   */
  readonly networkFileSystem?: boolean | undefined
}

/**
 * Where a worktree's daemon listens.
 *
 * @since 0.2.0
 * @category models
 */
export interface Location {
  /** The worktree's top directory, as Git names it. */
  readonly worktree: string
  readonly gitDir: string
  readonly socketPath: string
}

const runGit = (worktree: string, executable: string, args: ReadonlyArray<string>) =>
  Effect.promise((signal) => Repository.git(executable, worktree, args, signal))

const gitFailed = (worktree: string, failure: Repository.GitFailure) =>
  new RepositoryError({ worktree, reason: "GitFailed", detail: `git ${failure.args.join(" ")}: ${failure.message}`, cause: failure.cause })

/**
 * Finds the socket of `worktree`'s daemon as Git does (`git rev-parse`,
 * and `git config fsmonitor.socketDir` for a repository on a network file
 * system).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Fsmonitor } from "effect-simple-ipc"
 *
 * const program = Effect.gen(function*() {
 *   const { socketPath } = yield* Fsmonitor.locate(".", { git: "/usr/local/bin/git" })
 *   return yield* Fsmonitor.isRunning(socketPath)
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const locate = (worktree: string, options?: LocateOptions): Effect.Effect<Location, RepositoryError> =>
  Effect.gen(function*() {
    const git = options?.git ?? "git"
    const args = ["rev-parse", "--path-format=absolute", "--show-toplevel", "--git-dir", "--git-path", "fsmonitor--daemon.ipc"]
    const parsed = yield* runGit(worktree, git, args)
    if (!parsed.ok) return yield* Effect.fail(gitFailed(worktree, parsed.failure))
    const [top, gitDir, ipc] = parsed.stdout.replace(/\n$/, "").split("\n")
    if (top === undefined || gitDir === undefined || ipc === undefined) {
      return yield* Effect.fail(
        new RepositoryError({ worktree, reason: "GitFailed", detail: `git ${args.join(" ")} printed ${JSON.stringify(parsed.stdout)}` })
      )
    }
    if (!(options?.networkFileSystem ?? Repository.onNetworkFileSystem(gitDir))) return { worktree: top, gitDir, socketPath: ipc }
    // `git config --get` exits 1 for a key that is not set: the default.
    const configured = yield* runGit(top, git, ["config", "--get", "fsmonitor.socketDir"])
    const socketDir = configured.ok ? configured.stdout.trim() : undefined
    return { worktree: top, gitDir, socketPath: Repository.networkSocketPath(top, socketDir) }
  })

/**
 * @since 0.2.0
 * @category models
 */
export interface Options extends LocateOptions, QueryOptions {
  /** Start the daemon (`git fsmonitor--daemon start`) when a query finds none. Default `false`. */
  readonly autoStart?: boolean | undefined
  /** How long a start may take until the daemon listens. Default 10 s. */
  readonly startTimeout?: Duration.Input | undefined
}

/**
 * A worktree's daemon, with every request bound to its socket.
 *
 * @since 0.2.0
 * @category models
 */
export interface Fsmonitor extends Location {
  readonly query: (token: string) => Effect.Effect<Answer, FsmonitorError>
  readonly flush: Effect.Effect<Answer, FsmonitorError>
  readonly stop: (options?: StopOptions) => Effect.Effect<void, FsmonitorError>
  readonly isRunning: Effect.Effect<boolean>
  /** Starts `git fsmonitor--daemon` unless it runs already, and waits until it listens. */
  readonly start: Effect.Effect<void, FsmonitorError>
  readonly changes: <E = never, R = never>(options?: ChangesOptions<E, R>) => Stream.Stream<Change, FsmonitorError | E, R>
}

const isNotRunning = (error: FsmonitorError) => error.reason === "NotRunning"

/**
 * The daemon of `worktree` (see {@link locate}). With `autoStart`, a query
 * that finds no daemon starts Git's and asks again.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { Fsmonitor } from "effect-simple-ipc"
 *
 * const program = Effect.gen(function*() {
 *   const monitor = yield* Fsmonitor.make(".", { autoStart: true })
 *   const first = yield* monitor.query(Fsmonitor.unknownToken)
 *   const next = yield* monitor.query(first.token)
 *   if (next._tag === "Changed") console.log(next.paths)
 *   // Or follow every change, a query each second:
 *   yield* Stream.runForEach(monitor.changes(), (change) => Effect.log(change))
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (worktree: string, options?: Options): Effect.Effect<Fsmonitor, RepositoryError> =>
  Effect.map(locate(worktree, options), (location) => {
    const path = location.socketPath
    const start = AutoStart.ensureRunning(path, {
      command: options?.git ?? "git",
      args: ["fsmonitor--daemon", "start"],
      cwd: location.worktree,
      ...(options?.startTimeout !== undefined ? { startTimeout: options.startTimeout } : {})
    }).pipe(Effect.mapError((error) => new FsmonitorError({ path, reason: "StartFailed", detail: error.message, cause: error })))
    const ask = (token: string) =>
      options?.autoStart === true
        ? Effect.catchIf(query(path, token, options), isNotRunning, () => Effect.andThen(start, query(path, token, options)))
        : query(path, token, options)
    return {
      ...location,
      query: ask,
      flush: ask("flush"),
      stop: (stopOptions) => stop(path, stopOptions),
      isRunning: isRunning(path),
      start,
      changes: (changesOptions) => changesWith(ask, changesOptions)
    }
  })

// ---------------------------------------------------------------------------
// Server side
// ---------------------------------------------------------------------------

/**
 * @since 0.2.0
 * @category models
 */
export interface JournalOptions {
  /** The token's prefix. Default `builtin`, as Git's daemon. */
  readonly prefix?: string | undefined
  /** How many batches to keep; a token older than the oldest kept gets the trivial answer. Default 1000. */
  readonly maxBatches?: number | undefined
  /** Makes a token id; called at start and on every flush with a counter. Default Git's `<n>.<pid>.<UTC time>Z`. */
  readonly makeId?: ((counter: number) => string) | undefined
}

/**
 * Git's token ids: a counter, the process id and the UTC time
 * (`0.18195.20261130T050553.443603Z`), unique across restarts.
 */
const gitStyleId = (counter: number): string => {
  const now = new Date()
  const stamp = now.toISOString().replace(/[-:]/g, "").replace(/\.(\d{3})Z$/, (_, ms: string) => `.${ms}000Z`)
  return `${counter}.${process.pid}.${stamp}`
}

/** Paths an answer can carry: not empty, relative, and not the trivial marker. */
const isAnswerable = (path: string) => path !== "" && !path.startsWith("/") && !path.includes("\0")

interface Batch {
  readonly seq: number
  readonly paths: ReadonlyArray<string>
}

/**
 * The daemon's memory: batches of changed paths under a token id, each
 * batch one sequence number. Answers a token `<prefix>:<id>:<seq>` with the
 * paths of every batch after `seq`, deduplicated; a token of another id or
 * prefix, one from the future, one older than the oldest batch kept, or
 * anything that is not such a token, gets the trivial answer: the journal
 * only vouches for what it saw.
 *
 * @since 0.2.0
 * @category server
 */
export interface Journal {
  /** The token a client gets now. */
  readonly token: Effect.Effect<string>
  /** Records one batch of changed paths (worktree-relative; `dir/` for a whole directory). Nothing is recorded for none. */
  readonly record: (paths: ReadonlyArray<string>) => Effect.Effect<void, FsmonitorError>
  /** Forgets everything and starts a new token id (as after lost events); answers with the new token. */
  readonly reset: Effect.Effect<string>
  /** The answer to a query with `token`. */
  readonly answer: (token: string) => Effect.Effect<Answer>
}

/**
 * A new, empty {@link Journal}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Fsmonitor } from "effect-simple-ipc"
 *
 * const program = Effect.gen(function*() {
 *   const journal = Fsmonitor.makeJournal({ maxBatches: 100 })
 *   const since = yield* journal.token
 *   yield* journal.record(["a.txt"])
 *   return yield* journal.answer(since) // Changed, ["a.txt"]
 * })
 * ```
 *
 * @since 0.2.0
 * @category server
 */
export const makeJournal = (options?: JournalOptions): Journal => {
  const prefix = options?.prefix ?? "builtin"
  const maxBatches = Math.max(1, options?.maxBatches ?? 1000)
  const makeId = options?.makeId ?? gitStyleId
  let counter = 0
  let id = makeId(counter)
  let seq = 0
  // A client whose token is older than this may have missed a dropped batch.
  let horizon = 0
  let batches: Array<Batch> = []
  const current = () => Codec.formatToken({ prefix, id, seq })
  const vouchesFor = (token: Token | undefined): token is Token =>
    token !== undefined && token.prefix === prefix && token.id === id && token.seq <= seq && token.seq >= horizon
  return {
    token: Effect.sync(current),
    record: (paths) =>
      Effect.suspend(() => {
        const bad = paths.find((path) => !isAnswerable(path))
        if (bad !== undefined) {
          return Effect.fail(
            new FsmonitorError({ path: "", reason: "InvalidPath", detail: `${JSON.stringify(bad)} is not a worktree-relative path` })
          )
        }
        if (paths.length === 0) return Effect.void
        seq += 1
        batches.push({ seq, paths: [...paths] })
        if (batches.length > maxBatches) horizon = batches.splice(0, batches.length - maxBatches).at(-1)!.seq
        return Effect.void
      }),
    reset: Effect.sync(() => {
      counter += 1
      id = makeId(counter)
      seq = 0
      horizon = 0
      batches = []
      return current()
    }),
    answer: (token) =>
      Effect.sync(() => {
        const asked = Codec.parseToken(token)
        if (!vouchesFor(asked)) return trivial(current())
        const paths = new Set<string>()
        for (const batch of batches) {
          if (batch.seq > asked.seq) for (const path of batch.paths) paths.add(path)
        }
        return changed(current(), [...paths])
      })
  }
}

/**
 * @since 0.2.0
 * @category models
 */
export interface HandlerOptions<E = never, R = never> {
  /**
   * Run before answering a query: succeed with `true` once the journal has
   * every change made before the query arrived (Git's daemon writes a
   * cookie file and waits for its event), or `false` to answer trivially.
   * Default: the journal is taken as up to date.
   */
  readonly synchronise?: Effect.Effect<boolean, E, R> | undefined
}

/**
 * The chunks a daemon replies with for `answer`, in Git's layout: the
 * token alone, then `/` alone or the paths packed into as few packets as
 * fit.
 *
 * @since 0.2.0
 * @category server
 */
export const encodeAnswer = (answer: Answer): ReadonlyArray<Uint8Array> => Codec.encodeAnswer(answer)

/**
 * The whole message for `answer`, framed, flush included: what a daemon
 * writes.
 *
 * @since 0.2.0
 * @category server
 */
export const encodeAnswerMessage = (answer: Answer): Uint8Array =>
  PktLine.concat([...encodeAnswer(answer).flatMap(PktLine.frame), PktLine.flushBytes])

const text = new TextDecoder()

/**
 * A Simple IPC handler that answers as Git's daemon does, from `journal`:
 * `quit` stops the server (with a bare flush), `flush` resets the journal
 * and answers trivially with the new token, and any other request is a
 * token, answered from the journal (trivially when `synchronise` says the
 * journal is behind).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Fsmonitor, Server } from "effect-simple-ipc"
 *
 * const journal = Fsmonitor.makeJournal()
 * const daemon = Effect.gen(function*() {
 *   yield* journal.record(["src/index.ts", "build/"])
 *   yield* Server.run("/tmp/repo/.git/fsmonitor--daemon.ipc", Fsmonitor.handler(journal))
 * })
 * ```
 *
 * @since 0.2.0
 * @category server
 */
export const handler = <E = never, R = never>(
  journal: Journal,
  options?: HandlerOptions<E, R>
): Server.Handler<E | Connection.TransportError, R> =>
(request, reply) =>
  Effect.gen(function*() {
    const command = text.decode(request)
    if (command === "quit") return Server.Quit
    let answer: Answer
    if (command === "flush") {
      answer = trivial(yield* journal.reset)
    } else {
      const synced = options?.synchronise === undefined ? true : yield* options.synchronise
      answer = synced ? yield* journal.answer(command) : trivial(yield* journal.token)
    }
    for (const chunk of encodeAnswer(answer)) yield* reply(chunk)
  })
