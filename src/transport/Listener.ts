/**
 * The listening socket of a server, as a scoped resource: startup under the
 * lock, a socket file that appears fully formed and private, nothing left
 * behind by a start cut short, and a release that never removes a socket
 * that is no longer ours.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Data from "effect/Data"
import type * as Scope from "effect/Scope"
import type * as net from "node:net"
import type * as Lockfile from "./Lockfile.ts"
import type * as SocketPath from "./SocketPath.ts"
import * as internal from "./internal/listener.ts"
import { isPermissionDenied } from "../internal/Errno.ts"

/**
 * The server could not take the path.
 *
 * `AddressInUse`: a live server answers there; we never take its socket.
 * `NotASocket`: something that is not a socket (a file, a directory, a
 * symlink) sits at the path; it is left alone.
 * `OtherUser`: the socket's directory, or a socket at the path, belongs to
 * another user (`detail` says which), who could replace our socket with
 * theirs at any time; nothing is started, nothing of theirs is removed.
 * `Failed`: the system refused (the errno says why).
 *
 * @since 0.1.0
 * @category errors
 */
export class ListenError extends Data.TaggedError("ListenError")<{
  readonly path: string
  readonly reason: "AddressInUse" | "NotASocket" | "OtherUser" | "Failed"
  readonly errno?: string | undefined
  readonly detail?: string | undefined
  /** The system error, for `Failed`. */
  readonly cause?: unknown
}> {
  override get message(): string {
    switch (this.reason) {
      case "AddressInUse":
        return `socket/pipe already in use: '${this.path}'`
      case "NotASocket":
        return `could not start server on: '${this.path}': it exists and is not a socket (${this.detail}); remove it or choose another path`
      case "OtherUser":
        return `could not start server on: '${this.path}': ${this.detail}`
      case "Failed":
        return isPermissionDenied(this.errno)
          ? `could not start server on: '${this.path}': permission denied (${this.errno}): this user may not create, replace or reach a socket there`
          : `could not start server on: '${this.path}': ${this.detail ?? this.errno}`
    }
  }
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How long to wait for another starter's lock. Default 100 ms. */
  readonly lockTimeout?: Duration.Input | undefined
  /**
   * Permissions of the socket file, set before anyone can connect. Default
   * 0o600 (owner only). On Windows, where a pipe has no mode, group or
   * other bits open the pipe to every user (read bits: reading, write bits:
   * writing, which sending a request needs).
   */
  readonly mode?: number | undefined
  /** The listen backlog. Default 50, as Git uses. */
  readonly backlog?: number | undefined
  /**
   * Accepted connections waiting to be taken; a connection accepted while
   * the queue is full is closed at once. Default 500.
   */
  readonly queueCapacity?: number | undefined
  /**
   * The most connections held at once (waiting in the queue or being
   * served); beyond it, new connections are closed at once. Default: no
   * limit beyond the queue's.
   */
  readonly maxConnections?: number | undefined
  /** How long a starter's `<path>.lock` may be held before it is considered stale. Default 60 s. */
  readonly lockStaleAfter?: Duration.Input | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Listener {
  readonly path: string
  /**
   * Accepted connections, first in first out. Each socket already has an
   * error listener. Ends (`Cause.Done`) once the listener is closed.
   */
  readonly accepted: Queue.Dequeue<net.Socket, Cause.Done>
  /**
   * Stops accepting and closes the connections still waiting in
   * {@link accepted}. Idempotent; the socket file stays until
   * {@link remove} or the end of the scope. Returns how many waiting
   * connections it closed.
   */
  readonly close: Effect.Effect<number>
  /** Whether the path still names the socket this listener bound (always, for a Windows pipe). */
  readonly isStillOurs: Effect.Effect<boolean>
  /**
   * Completes when the socket has been stolen: the path was removed, or now
   * names another file (another server bound there). Such a listener can
   * never receive a new client. Never, for a Windows pipe.
   */
  readonly stolen: Effect.Effect<void>
  /**
   * Stops accepting and removes the socket file if it is still ours. Done
   * again, harmlessly, when the scope closes.
   */
  readonly remove: Effect.Effect<void>
}

/**
 * Binds a listening socket at `path`, following Git's startup protocol:
 * take `<path>.lock`; if a live server answers at the path, fail with
 * `AddressInUse`; otherwise remove a stale socket, bind, listen, and record
 * the new socket's inode and device; release the lock.
 *
 * The socket is bound in a private directory (mode 0700) made for the
 * purpose beside `path`, given its permissions, then renamed onto `path`,
 * and the directory removed: no other user can reach the socket before it
 * has its mode, whatever the umask, and clients only ever see a complete
 * socket. Because Node removes the bound name when the server closes, the
 * name it removes is the temporary one, which no longer exists, rather than
 * whatever is at `path` by then.
 *
 * A directory of another user is refused (`OtherUser`): its owner could
 * replace the socket. Taking the lock clears what starters killed midway
 * left there (see {@link Lockfile.acquire}).
 *
 * Closing the scope stops accepting, destroys connections not yet taken
 * from {@link Listener.accepted}, and removes the socket file if it is
 * still ours.
 *
 * On Windows the listener is the path's named pipe
 * (`SocketPath.windowsPipeName`) and none of the above applies: a pipe
 * name is no file, so it has no lock, no stale socket, no mode to set
 * (see {@link Options.mode}) and nothing to remove, and it cannot be
 * stolen. A live server on the name is `AddressInUse`: Windows refuses a
 * second server itself, and a connection attempt made first finds one
 * where Windows does not refuse (Wine). A name longer than
 * `SocketPath.MAX_PIPE_NAME_CHARS` fails with `SocketPathError`
 * `NameTooLong`.
 *
 * `Server.make` is built on the same listener; use this to serve sockets
 * with a protocol of your own.
 *
 * @example
 * ```ts
 * import { Effect, Queue } from "effect"
 * import { Listener } from "effect-simple-ipc"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     const listener = yield* Listener.make("/tmp/raw.sock", { mode: 0o660 })
 *     // One connection, answered by hand and closed.
 *     const socket = yield* Queue.take(listener.accepted)
 *     socket.end("hello\n")
 *   })
 * ) // the socket file is removed with the scope, if it is still ours
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  path: string,
  options?: Options
): Effect.Effect<Listener, ListenError | Lockfile.LockError | SocketPath.SocketPathError, Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* Queue.bounded<net.Socket, Cause.Done>(Math.max(1, options?.queueCapacity ?? 500))
    const bound = yield* internal.listen(path, options, (socket) => {
      // A full queue means nobody takes connections fast enough: refusing
      // at once lets the client fail fast instead of waiting for ever.
      if (!Queue.offerUnsafe(queue, socket)) return socket.destroy()
      // Hand the connection over now rather than on a later turn of the
      // event loop: every turn is latency.
      Queue.flushUnsafe(queue)
    })
    const close = Effect.gen(function*() {
      yield* bound.close
      const waiting = yield* Queue.clear(queue)
      for (const socket of waiting) socket.destroy()
      yield* Queue.end(queue)
      return waiting.length
    })
    yield* Effect.addFinalizer(() => Effect.asVoid(close))
    return {
      path,
      accepted: queue,
      close,
      isStillOurs: bound.isStillOurs,
      stolen: bound.stolen,
      remove: Effect.andThen(close, bound.remove)
    } satisfies Listener
  })
