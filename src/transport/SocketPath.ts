/**
 * Socket addresses: how a path becomes something `node:net` can bind or
 * connect to, including paths longer than the kernel's limit and Windows
 * named pipes; and where a workspace's daemon puts its socket.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Data from "effect/Data"
import * as Scope from "effect/Scope"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { errnoOf } from "../internal/Bytes.ts"
import * as FileIdentity from "./internal/fileIdentity.ts"

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

/**
 * The per-user directory {@link forWorkspace} would put a socket in cannot
 * be trusted or made.
 *
 * `InvalidName`: the name is not a plain file name. `NotADirectory`:
 * something else (a file, a symbolic link) is at the directory's path.
 * `OtherUser`: the directory belongs to another user, who could replace
 * our socket with theirs. `Writable`: group or others may write in it, and
 * so replace our socket. `Failed`: it could not be made or read (`errno`
 * says why, `cause` is the system's error).
 *
 * @since 0.2.0
 * @category errors
 */
export class WorkspaceDirectoryError extends Data.TaggedError("WorkspaceDirectoryError")<{
  /** The directory (for `InvalidName`, the name). */
  readonly path: string
  readonly reason: "InvalidName" | "NotADirectory" | "OtherUser" | "Writable" | "Failed"
  readonly detail: string
  readonly errno?: string | undefined
  readonly cause?: unknown
}> {
  override get message(): string {
    switch (this.reason) {
      case "InvalidName":
        return `invalid name for a workspace socket '${this.path}': ${this.detail}`
      case "Failed":
        return `cannot make the socket directory '${this.path}': ${this.detail}`
      default:
        return `refusing the socket directory '${this.path}': ${this.detail}; remove it (it is recreated private to this user), or set XDG_RUNTIME_DIR to a directory of your own`
    }
  }
}

/**
 * @since 0.2.0
 * @category models
 */
export interface WorkspaceOptions {
  /** The application's name: the directory's name, and the start of the socket's. A plain file name. */
  readonly name: string
  /** Where `XDG_RUNTIME_DIR` is read. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /** The temporary directory used without `XDG_RUNTIME_DIR`. Default `os.tmpdir()`. */
  readonly tmpDir?: string | undefined
}

/** Hex digits of the workspace's hash in a socket's name: 80 bits, no collision in practice. */
const HASH_DIGITS = 20

/** The longest readable part of a socket's name (the workspace's last component, as is safe). */
const LABEL_LIMIT = 24

const isPlainName = (name: string): boolean =>
  name.length > 0 && name.length <= 64 && name !== "." && name !== ".." && !/[/\\\0]/.test(name)

/** Whether group or others may write in the directory (and so replace what is in it). */
const isWritableByOthers = (stats: fs.Stats): boolean => process.platform !== "win32" && (stats.mode & 0o022) !== 0

/** The workspace's path as the file system resolves it: its spellings and links give one socket. */
const canonical = (root: string): string => {
  const absolute = nodePath.resolve(root)
  try {
    return fs.realpathSync.native(absolute)
  } catch {
    // Not there (yet): its spelling, made absolute and normal, is all there is.
    return absolute
  }
}

/** The per-user directory: `$XDG_RUNTIME_DIR/<name>`, else `<tmp>/<name>-<uid>`. */
const userDirectory = (options: WorkspaceOptions): string => {
  const runtime = (options.env ?? process.env).XDG_RUNTIME_DIR
  // The XDG specification: a relative value is to be ignored.
  if (runtime !== undefined && nodePath.isAbsolute(runtime)) return nodePath.join(runtime, options.name)
  const uid = process.getuid?.()
  return nodePath.join(options.tmpDir ?? os.tmpdir(), uid === undefined ? options.name : `${options.name}-${uid}`)
}

/** Makes `directory` private to this user, or checks the one already there. */
const ensurePrivateDirectory = (directory: string): Effect.Effect<void, WorkspaceDirectoryError> =>
  Effect.try({
    try: () => {
      try {
        fs.mkdirSync(directory, { mode: 0o700 })
      } catch (error) {
        if (errnoOf(error) !== "EEXIST") throw error
      }
      return fs.lstatSync(directory)
    },
    catch: (error) =>
      new WorkspaceDirectoryError({
        path: directory,
        reason: "Failed",
        errno: errnoOf(error) ?? "EIO",
        detail: String((error as Error).message),
        cause: error
      })
  }).pipe(Effect.flatMap((stats) => {
    if (!stats.isDirectory()) {
      return Effect.fail(new WorkspaceDirectoryError({ path: directory, reason: "NotADirectory", detail: `it is ${FileIdentity.kindOf(stats)}` }))
    }
    if (!FileIdentity.isOwnedByUs(stats)) {
      return Effect.fail(
        new WorkspaceDirectoryError({ path: directory, reason: "OtherUser", detail: `it belongs to another user (uid ${stats.uid})` })
      )
    }
    if (isWritableByOthers(stats)) {
      return Effect.fail(
        new WorkspaceDirectoryError({
          path: directory,
          reason: "Writable",
          detail: `group or others may write in it (mode ${(stats.mode & 0o777).toString(8).padStart(3, "0")})`
        })
      )
    }
    return Effect.void
  }))

/**
 * A socket path for one workspace (a project's root directory, say) and
 * one application, private to this user: `$XDG_RUNTIME_DIR/<name>/`, or
 * where that is not set, `<name>-<uid>/` in the OS temporary directory,
 * made with mode 0700 if it is not there. The same workspace, however its
 * path is spelt (relative, through a symbolic link), always gets the same
 * socket; different workspaces get different ones.
 *
 * The socket's name is the workspace's last path component (cut short, and
 * dropped if the whole would not fit) and a hash of its full path, so the
 * socket's path stays within the kernel's limit however deep the
 * workspace lies: no "path too long" for a workspace nested anywhere.
 *
 * A directory already at that place is used only if it is a directory of
 * this user's that group and others may not write in: anyone who can write
 * there could put a socket of theirs in our socket's place. Anything else
 * fails with {@link WorkspaceDirectoryError}, which names the directory.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Server, SocketPath } from "effect-simple-ipc"
 *
 * const program = Effect.gen(function*() {
 *   // e.g. /run/user/1000/my-tool/my-project-3f9a0c1d2e4b5a6c7d8e.sock
 *   const path = yield* SocketPath.forWorkspace(process.cwd(), { name: "my-tool" })
 *   yield* Server.make(path, (request, reply) => reply(request))
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const forWorkspace = (root: string, options: WorkspaceOptions): Effect.Effect<string, WorkspaceDirectoryError> =>
  Effect.suspend(() => {
    if (!isPlainName(options.name)) {
      return Effect.fail(
        new WorkspaceDirectoryError({
          path: options.name,
          reason: "InvalidName",
          detail: "use 1 to 64 characters, with no '/', '\\' or NUL, other than '.' and '..'"
        })
      )
    }
    const directory = userDirectory(options)
    const workspace = canonical(root)
    const hash = createHash("sha256").update(workspace).digest("hex").slice(0, HASH_DIGITS)
    const label = nodePath.basename(workspace).replace(/[^A-Za-z0-9._-]/g, "_").slice(0, LABEL_LIMIT)
    const labelled = nodePath.join(directory, `${label}-${hash}.sock`)
    const path = label.length > 0 && fits(labelled) ? labelled : nodePath.join(directory, `${hash}.sock`)
    return Effect.as(ensurePrivateDirectory(directory), path)
  })
