/**
 * Socket addresses: how a path becomes something `node:net` can bind or
 * connect to, including paths longer than the kernel's limit and Windows
 * named pipes.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Data from "effect/Data"
import * as Scope from "effect/Scope"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { errnoOf } from "../internal/Bytes.ts"

/**
 * The longest socket path the platform accepts, in bytes, without the
 * terminating NUL (`sun_path` is 108 bytes on Linux, 104 on macOS).
 *
 * @since 0.1.0
 * @category constants
 */
export const MAX_SOCKET_PATH_BYTES = process.platform === "darwin" || process.platform.endsWith("bsd") ? 103 : 107

/**
 * The longest named pipe name Windows accepts, in UTF-16 code units,
 * `\\.\pipe\` included (the limit `CreateNamedPipe` documents).
 *
 * @since 0.2.0
 * @category constants
 */
export const MAX_PIPE_NAME_CHARS = 256

/**
 * A path that cannot be turned into a socket address.
 *
 * `NameTooLong`: longer than the platform limit, and no way around it here
 * (on Windows, `pipeName` is the named pipe the path maps to, over
 * {@link MAX_PIPE_NAME_CHARS}).
 * `DirectoryUnavailable`: the parent directory of a long path could not be
 * opened (the errno says why, `cause` is the system's error).
 *
 * @since 0.1.0
 * @category errors
 */
export class SocketPathError extends Data.TaggedError("SocketPathError")<{
  readonly path: string
  readonly reason: "NameTooLong" | "DirectoryUnavailable"
  readonly errno?: string | undefined
  /** The named pipe the path maps to, when that name is what is too long. */
  readonly pipeName?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    if (this.reason === "NameTooLong" && this.pipeName !== undefined) {
      return `named pipe name for '${this.path}' is too long (${this.pipeName.length} characters, Windows allows ${MAX_PIPE_NAME_CHARS}): '${this.pipeName}'; use a shorter path`
    }
    return this.reason === "NameTooLong"
      ? `socket path is too long for this platform (${Buffer.byteLength(this.path)} bytes, the limit is ${MAX_SOCKET_PATH_BYTES}): '${this.path}'; use a shorter path`
      : `cannot open the directory of socket path '${this.path}' (${this.errno})`
  }
}

/**
 * The named pipe that stands for `path` on Windows: `\\.\pipe\` followed by
 * the absolute path, with a drive `C:` written `C_` and every `/` turned
 * into `\`. A relative path is resolved against `cwd`.
 *
 * The transport uses it on Windows (`process.platform === "win32"`),
 * where Node's `net` module speaks named pipes; a name longer than
 * {@link MAX_PIPE_NAME_CHARS} is refused there (see {@link address}).
 *
 * @since 0.1.0
 * @category utils
 */
export const windowsPipeName = (path: string, cwd: string = process.cwd()): string => {
  const absolute = nodePath.win32.resolve(cwd, path)
  const withDrive = absolute.replace(/^([A-Za-z]):/, "$1_")
  return `\\\\.\\pipe\\${withDrive.replace(/\//g, "\\")}`
}

const fits = (path: string) => Buffer.byteLength(path) <= MAX_SOCKET_PATH_BYTES

/** A pipe name Windows accepts (UTF-16 code units, as JavaScript counts a string's length). */
const pipeNameFits = (pipe: string) => pipe.length <= MAX_PIPE_NAME_CHARS

/**
 * Why a path whose pipe name does not fit has no address on Windows: a
 * pipe name is not a file, with no directory to go through as a long
 * socket path has on Linux.
 */
const pipeNameTooLong = (path: string) => new SocketPathError({ path, reason: "NameTooLong", pipeName: windowsPipeName(path) })

const openDirectory = (path: string, directory: string) =>
  Effect.acquireRelease(
    Effect.try({
      try: () => fs.openSync(directory, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY),
      catch: (error) =>
        new SocketPathError({ path, reason: "DirectoryUnavailable", errno: errnoOf(error) ?? "EIO", cause: error })
    }),
    (fd) => Effect.sync(() => fs.closeSync(fd))
  )

/**
 * The address for `path` when it needs no resource (a path within the
 * limit, or a Windows pipe name within {@link MAX_PIPE_NAME_CHARS});
 * `undefined` when it needs the directory alias of {@link address}, or
 * cannot have an address.
 *
 * @example
 * ```ts
 * import * as net from "node:net"
 * import { SocketPath } from "effect-simple-ipc"
 *
 * // A short path is its own address; on Windows, its named pipe.
 * const direct = SocketPath.directAddress("/tmp/app.sock")
 * if (direct !== undefined) net.connect(direct)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const directAddress = (path: string): string | undefined => {
  if (process.platform !== "win32") return fits(path) ? path : undefined
  const pipe = windowsPipeName(path)
  return pipeNameFits(pipe) ? pipe : undefined
}

/**
 * The address to give `node:net` for a socket at `path`, valid for the
 * life of the scope.
 *
 * A path longer than the kernel's `sun_path` limit is reached through the
 * parent directory: on Linux `/proc/self/fd/<fd>/<name>` names the same
 * file through a descriptor of the directory, so nothing needs to change
 * the process's working directory (which Git does, and which is unsafe with
 * concurrent connections). The descriptor stays open until the scope
 * closes. Where no such alias exists, or the name itself is too long, the
 * path fails with `NameTooLong`; on Windows, so does a path whose pipe name
 * is longer than {@link MAX_PIPE_NAME_CHARS}.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as net from "node:net"
 * import { SocketPath } from "effect-simple-ipc"
 *
 * const deep = `/tmp/${"nested/".repeat(20)}app.sock`
 * const program = Effect.scoped(
 *   Effect.gen(function*() {
 *     // On Linux, `/proc/self/fd/<n>/app.sock`: valid until the scope closes.
 *     const address = yield* SocketPath.address(deep)
 *     const socket = net.connect(address)
 *     yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const address = (path: string): Effect.Effect<string, SocketPathError, Scope.Scope> => {
  const direct = directAddress(path)
  if (direct !== undefined) return Effect.succeed(direct)
  if (process.platform === "win32") return Effect.fail(pipeNameTooLong(path))
  if (process.platform !== "linux") return Effect.fail(new SocketPathError({ path, reason: "NameTooLong" }))
  return Effect.flatMap(openDirectory(path, nodePath.dirname(path)), (fd) => {
    const alias = `/proc/self/fd/${fd}/${nodePath.basename(path)}`
    return fits(alias) ? Effect.succeed(alias) : Effect.fail(new SocketPathError({ path, reason: "NameTooLong" }))
  })
}
