/**
 * The engine of a listening socket: start-up under the lock in a private
 * directory, an accept callback with no queue in between, the stolen-socket
 * watch, and a release that never removes a socket that is no longer ours.
 * The public `Listener` module puts a queue in front of it; the server
 * hands each connection straight to its engine.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { constVoid } from "effect/Function"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as fs from "node:fs"
import * as net from "node:net"
import * as nodePath from "node:path"
import { errnoOf } from "../../internal/Bytes.ts"
import { isBusy, isPermissionDenied } from "../../internal/Errno.ts"
import * as StartupPhase from "../../internal/StartupPhase.ts"
import * as Connection from "../Connection.ts"
import { ListenError, type Options } from "../Listener.ts"
import * as Lockfile from "../Lockfile.ts"
import * as SocketPath from "../SocketPath.ts"
import * as FileIdentity from "./fileIdentity.ts"
import * as Leftovers from "./leftovers.ts"

/** A bound socket: what the public listener and the server build on. */
export interface Bound {
  readonly path: string
  /** Stops accepting. Idempotent; the socket file stays until `remove` or the end of the scope. */
  readonly close: Effect.Effect<void>
  readonly isStillOurs: Effect.Effect<boolean>
  readonly stolen: Effect.Effect<void>
  readonly remove: Effect.Effect<void>
}

/**
 * The lock a server takes while it starts at `path`. Whoever must keep a
 * server from starting there meanwhile (a client replacing an old daemon)
 * takes the same one.
 */
export const startupLock = (path: string): string => `${path}.lock`

const failed = (path: string, error: unknown) =>
  new ListenError({ path, reason: "Failed", errno: errnoOf(error) ?? "EIO", detail: String((error as Error).message), cause: error })

/**
 * Probes `path` before binding. A live server there means "address in
 * use"; a socket nobody answers on is stale (its server died) and may be
 * replaced; anything that is not a socket, or is another user's, is not
 * ours to remove.
 */
const clearStale = (path: string) =>
  Effect.gen(function*() {
    const stats = yield* Effect.try({ try: () => fs.lstatSync(path, { throwIfNoEntry: false }), catch: (e) => failed(path, e) })
    if (stats === undefined) return
    if (!stats.isSocket()) return yield* new ListenError({ path, reason: "NotASocket", detail: FileIdentity.kindOf(stats) })
    if (!FileIdentity.isOwnedByUs(stats)) {
      return yield* new ListenError({
        path,
        reason: "OtherUser",
        detail: `the socket there belongs to another user (uid ${stats.uid}) and is never removed; that user or root can remove it`
      })
    }
    // Only a refusal proves the socket stale (or its vanishing, when a
    // stopping server removes it meanwhile). Any other failure (a full
    // backlog answers EAGAIN) may come from a live, busy server, whose
    // socket must not be taken.
    // A socket this user may not reach cannot be judged at all: say so.
    const live = yield* Effect.scoped(Connection.connect(path)).pipe(
      Effect.as(true),
      Effect.catchTag("TransportError", (error) =>
        isPermissionDenied(error.errno)
          ? Effect.fail(new ListenError({ path, reason: "Failed", errno: error.errno, detail: error.message, cause: error }))
          : Effect.succeed(error.errno !== "ECONNREFUSED" && error.errno !== "ENOENT"))
    )
    if (live) return yield* new ListenError({ path, reason: "AddressInUse" })
    yield* Effect.try({ try: () => fs.rmSync(path, { force: true }), catch: (e) => failed(path, e) })
  })

const bind = (path: string, address: string, backlog: number, access?: PipeAccess) =>
  Effect.callback<net.Server, ListenError>((resume) => {
    const server = net.createServer({ allowHalfOpen: true })
    const onError = (error: Error) => {
      server.close()
      resume(Effect.fail(failed(path, error)))
    }
    server.once("error", onError)
    server.listen({ path: address, backlog, ...access }, () => {
      server.off("error", onError)
      resume(Effect.succeed(server))
    })
    return Effect.sync(() => server.close())
  })

/**
 * Hands every connection `server` accepts to `onConnection`, for the life
 * of the scope; closing the scope stops accepting.
 */
const serve = (
  bound: Effect.Effect<net.Server, ListenError | SocketPath.SocketPathError>,
  options: Options | undefined,
  onConnection: (socket: net.Socket) => void
) =>
  Effect.acquireRelease(
    Effect.tap(bound, (server) =>
      Effect.sync(() => {
        server.on("connection", (socket: net.Socket) => {
          // An unhandled error event on any socket would crash the process.
          socket.on("error", constVoid)
          onConnection(socket)
        })
        server.on("error", constVoid)
        if (options?.maxConnections !== undefined) server.maxConnections = options.maxConnections
      })),
    closeWith
  )

const closeWith = (server: net.Server) => Effect.sync(() => void server.close())

/**
 * The owner of the socket's directory can remove our socket and put their
 * own in its place at any time, whatever its mode: a directory of another
 * user (root aside, who can do anything anyway) is refused. Anyone else who
 * can write to it can do the same, unless the sticky bit (as on /tmp)
 * protects files they do not own: such a directory deserves a warning. A
 * directory that cannot be read is left for the lock to report.
 */
/** The directory's stats, or `undefined` when it cannot be looked at (missing, not a directory, not ours to read). */
const statOrUndefined = (directory: string): fs.Stats | undefined => {
  try {
    return fs.statSync(directory)
  } catch {
    return undefined
  }
}

const checkDirectory = (path: string, directory: string) =>
  Effect.suspend(() => {
    const stats = statOrUndefined(directory)
    if (stats === undefined) return Effect.void
    if (!FileIdentity.isOwnedByUsOrRoot(stats)) {
      return Effect.fail(
        new ListenError({
          path,
          reason: "OtherUser",
          detail: `its directory '${directory}' belongs to another user (uid ${stats.uid}), who could replace the socket at any time; use a directory of your own`
        })
      )
    }
    return (stats.mode & 0o002) !== 0 && (stats.mode & 0o1000) === 0
      ? Effect.logWarning(
        `socket directory '${directory}' is writable by every user and has no sticky bit: anyone could replace the socket`
      )
      : Effect.void
  })

/**
 * A directory only we can enter, made beside the socket's path for the
 * life of the scope: a socket bound in it is out of other users' reach
 * whatever its mode, until it is renamed into place. Its name records our
 * process, so that the next start removes it if we die first.
 */
const privateDirectory = (path: string, directory: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        // mkdtemp creates it 0700 or stricter, whatever the umask: no
        // window where others may enter. The chmod makes it usable under a
        // umask that would deny us too.
        const made = fs.mkdtempSync(nodePath.join(directory, Leftovers.prefix("sock")))
        try {
          fs.chmodSync(made, 0o700)
        } catch (error) {
          fs.rmSync(made, { recursive: true, force: true })
          throw error
        }
        return made
      },
      catch: (e) => failed(path, e)
    }),
    (made) =>
      Effect.sync(() => {
        try {
          fs.rmSync(made, { recursive: true, force: true })
        } catch {
          // Left for the next start to sweep, once we are gone.
        }
      })
  )

/** Directory change events, for noticing a stolen socket at once; empty where watching is not supported. */
const directoryChanges = (directory: string): Stream.Stream<void> =>
  Stream.callback<void>((queue) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        try {
          const watcher = fs.watch(directory, { persistent: false }, () => Queue.offerUnsafe(queue, undefined))
          watcher.on("error", () => watcher.close())
          return watcher
        } catch {
          return undefined
        }
      }),
      (watcher) => Effect.sync(() => watcher?.close())
    ), { bufferSize: 1, strategy: "dropping" })

/**
 * Binds a listening socket at `path` (the start-up protocol is described
 * on the public `Listener.make`) and hands every accepted connection to
 * `onConnection`, which owns it from then on.
 */
export const listen = (
  path: string,
  options: Options | undefined,
  onConnection: (socket: net.Socket) => void
): Effect.Effect<Bound, ListenError | Lockfile.LockError | SocketPath.SocketPathError, Scope.Scope> =>
  process.platform === "win32" ? listenPipe(path, options, onConnection) : Effect.gen(function*() {
    const scope = yield* Effect.scope
    const directory = nodePath.dirname(path)
    yield* checkDirectory(path, directory)

    // The lock and the private directory are held only while starting, in
    // a scope of their own; the directory goes first.
    const startScope = yield* Scope.fork(scope)
    yield* Scope.provide(
      Lockfile.acquire(startupLock(path), { timeout: options?.lockTimeout, staleAfter: options?.lockStaleAfter, guarding: path }),
      startScope
    )
    StartupPhase.reached("locked")
    yield* clearStale(path)
    const privateDir = yield* Scope.provide(privateDirectory(path, directory), startScope)
    const temporary = nodePath.join(privateDir, nodePath.basename(privateDir))
    StartupPhase.reached("directory-made")

    // The socket file goes at the end, but only while it is still the one
    // we bound: a server whose socket was stolen must not delete the new
    // owner's.
    let identity: FileIdentity.Identity | undefined
    const removeIfOurs = Effect.sync(() => {
      if (identity !== undefined) FileIdentity.removeIfAt(path, identity, (stats) => stats.isSocket())
    })
    yield* Effect.addFinalizer(() => removeIfOurs)
    const server = yield* serve(
      // The directory descriptor a long path needs is only needed to bind.
      Effect.scoped(Effect.flatMap(SocketPath.address(temporary), (address) => bind(path, address, options?.backlog ?? 50))),
      options,
      onConnection
    )
    const close = closeWith(server)
    StartupPhase.reached("bound")
    yield* Effect.try({
      try: () => {
        fs.chmodSync(temporary, options?.mode ?? 0o600)
        // Taken before the rename, which keeps the inode: after it, the
        // path may already name someone else's file.
        const bound = FileIdentity.of(fs.lstatSync(temporary))
        fs.renameSync(temporary, path)
        identity = bound
        StartupPhase.reached("renamed")
      },
      catch: (e) => failed(path, e)
    })
    yield* Scope.close(startScope, Exit.void)

    const owned = identity!
    const isStillOurs = Effect.sync(() => FileIdentity.isAt(path, owned))
    // A watch on the directory notices a stolen socket at once; the periodic
    // check covers file systems where watching does not report. The first
    // check runs at once, for a change made before the watch began.
    const stolen = Stream.merge(
      directoryChanges(directory),
      Stream.fromSchedule(Schedule.spaced(Duration.millis(500)))
    ).pipe(
      Stream.prepend([undefined]),
      Stream.mapEffect(() => isStillOurs),
      Stream.filter((ours) => !ours),
      Stream.take(1),
      Stream.runDrain
    )
    return { path, close, isStillOurs, stolen, remove: Effect.andThen(close, removeIfOurs) } satisfies Bound
  })

/** What the mode's bits for others make of a pipe's access list, on Windows. */
interface PipeAccess {
  readonly readableAll: boolean
  readonly writableAll: boolean
}

/**
 * Windows has no file mode for a pipe: the mode's group and other bits
 * open it to every user (Node sets the pipe's access list), as Git opens
 * its daemon's pipe to everyone; the default 0o600 keeps Windows' default
 * list, under which other users may not write to it, so cannot send a
 * request.
 */
const pipeAccess = (mode: number): PipeAccess => ({
  readableAll: (mode & 0o044) !== 0,
  writableAll: (mode & 0o022) !== 0
})

/**
 * Fails with `AddressInUse` when a server answers on the pipe, or holds
 * it busy. Any other answer (no pipe, a pipe this user may not open) is
 * left to the bind, which Windows refuses for a name in use; a pipe name
 * lives only as long as its server's handles, so there is never a stale
 * one to clear.
 */
const refuseLiveServer = (path: string): Effect.Effect<void, ListenError | SocketPath.SocketPathError> =>
  Effect.scoped(Connection.connect(path)).pipe(
    Effect.as(true),
    Effect.catchTag("TransportError", (error) => Effect.succeed(isBusy(error.errno))),
    Effect.flatMap((live) => live ? Effect.fail(new ListenError({ path, reason: "AddressInUse" })) : Effect.void)
  )

/**
 * The listening side on Windows, as Git's Windows server has it: the
 * server listens on the path's named pipe, and none of the Unix start-up
 * applies. A pipe name is no file: it cannot be left stale by a server
 * that died, nor removed or replaced under a live one, so there is no lock
 * to take, no stale socket to clear, no private directory, no rename, no
 * watch for a stolen socket and nothing to remove at the end.
 *
 * Windows refuses a second server on a name by itself (Node creates the
 * first instance with `FILE_FLAG_FIRST_PIPE_INSTANCE`, as Git does, and
 * reports `EADDRINUSE`). Wine does not refuse, and there a second server
 * would silently share the name with the first; so a connection attempt
 * comes first, as on Unix, and a live server is `AddressInUse` everywhere.
 * Only Windows closes the gap of two servers starting at the same instant.
 */
const listenPipe = (
  path: string,
  options: Options | undefined,
  onConnection: (socket: net.Socket) => void
): Effect.Effect<Bound, ListenError | SocketPath.SocketPathError, Scope.Scope> =>
  Effect.gen(function*() {
    const address = yield* SocketPath.address(path)
    yield* refuseLiveServer(path)
    const server = yield* serve(
      bind(path, address, options?.backlog ?? 50, pipeAccess(options?.mode ?? 0o600)).pipe(
        Effect.catchIf(
          (error) => error.errno === "EADDRINUSE",
          (error) => Effect.fail(new ListenError({ path, reason: "AddressInUse", errno: error.errno, cause: error.cause }))
        )
      ),
      options,
      onConnection
    )
    const close = closeWith(server)
    return { path, close, isStillOurs: Effect.succeed(true), stolen: Effect.never, remove: close } satisfies Bound
  })
