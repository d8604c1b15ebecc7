/**
 * Helpers for the fsmonitor tests: the vectors recorded from Git's daemon,
 * a server that records what it is sent, packet-level views of bytes, and
 * the tests' Git repositories.
 */
import { Effect, Stream } from "effect"
import { type ChildProcess, execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"
import * as Fsmonitor from "../../src/fsmonitor/Fsmonitor.ts"
import * as PktLine from "../../src/framing/PktLine.ts"
import { spawnScoped } from "../support/child.ts"
import { waitUntil } from "../support/raw.ts"
import { tempDir } from "../support/tempdir.ts"

const root = fileURLToPath(new URL("../vectors/fsmonitor/", import.meta.url))

export interface FsmonitorCase {
  readonly name: string
  readonly request: Uint8Array
  readonly response: Uint8Array
}

const caseNames = [
  "1-first-query-v1-timestamp",
  "2-no-changes",
  "3-three-changes",
  "4-builtin-fake",
  "5-flush",
  "6-quit"
] as const

export type CaseName = typeof caseNames[number]

/** The exchanges recorded between Git's clients and Git's daemon, in the order they happened. */
export const cases: ReadonlyArray<FsmonitorCase & { readonly name: CaseName }> = caseNames.map((name) => ({
  name,
  request: new Uint8Array(fs.readFileSync(`${root}${name}.request.bin`)),
  response: new Uint8Array(fs.readFileSync(`${root}${name}.response.bin`))
}))

export const caseNamed = (name: CaseName) => cases.find((c) => c.name === name)!

/** The token ids Git's daemon used in the recording: the first at start, the second after `flush`. */
export const recordedIds = ["0.18195.20261130T050553.443603Z", "1.18195.20261130T050555.558492Z"] as const

/** The packets of a message held in memory. */
export const packetsOf = (bytes: Uint8Array) =>
  Stream.runCollect(PktLine.decodePackets(Stream.succeed(bytes)))

/** The payload of a request or response (its data packets up to the flush), as text. */
export const payloadText = (bytes: Uint8Array) =>
  Effect.map(PktLine.readMessage(Stream.succeed(bytes)), (payload) => Buffer.from(payload).toString("utf8"))

/**
 * A server at `path` that answers every connection with `response` once
 * the request has arrived whole (its flush), recording each request's
 * bytes. With `closeAfterFirst`, it stops listening after the first
 * answer, as a daemon that quits does.
 */
export const recordingServer = (path: string, response: Uint8Array, options?: { readonly closeAfterFirst?: boolean }) =>
  Effect.map(
    Effect.acquireRelease(
      Effect.callback<{ server: net.Server; requests: Array<Uint8Array> }, Error>((resume) => {
        const requests: Array<Uint8Array> = []
        const server = net.createServer((socket) => {
          const chunks: Array<Buffer> = []
          socket.on("error", () => {})
          socket.on("data", (chunk) => {
            chunks.push(chunk)
            const received = Buffer.concat(chunks)
            if (!received.subarray(-4).equals(Buffer.from("0000"))) return
            requests.push(new Uint8Array(received))
            socket.end(response)
            if (options?.closeAfterFirst === true) server.close()
          })
        })
        server.on("error", (error) => resume(Effect.fail(error)))
        server.listen(path, () => resume(Effect.succeed({ server, requests })))
      }),
      ({ server }) =>
        Effect.sync(() => {
          server.close()
          fs.rmSync(path, { force: true })
        })
    ),
    ({ requests }) => requests
  )

const example = fileURLToPath(new URL("../../examples/fsmonitor-daemon/main.ts", import.meta.url))

const output = (child: ChildProcess) => {
  let text = ""
  child.stdout!.setEncoding("utf8").on("data", (data: string) => (text += data))
  return () => text
}

/** Options of {@link gitRepository}: what a test's repository holds beyond `git init`. */
export interface RepositoryOptions {
  /** Files to write in the worktree, by worktree-relative path (directories are made as needed). */
  readonly files?: Readonly<Record<string, string>>
  /** `git config` entries, set in the repository once the rest is done. */
  readonly config?: Readonly<Record<string, string>>
  /** Whether to commit the files (an empty commit if there are none), so that the repository has a HEAD. */
  readonly commit?: boolean
}

/**
 * A fresh Git repository at `<dir>/repo`, `dir` being the test's temp dir,
 * removed when the scope closes. Both paths are real paths (no symbolic
 * link on the way), as Git reports them, so that tests can compare them
 * with what Git says.
 */
export const gitRepository = (options: RepositoryOptions = {}) =>
  Effect.gen(function*() {
    const dir = fs.realpathSync(yield* tempDir)
    const worktree = nodePath.join(dir, "repo")
    fs.mkdirSync(worktree)
    for (const [path, content] of Object.entries(options.files ?? {})) {
      fs.mkdirSync(nodePath.dirname(nodePath.join(worktree, path)), { recursive: true })
      fs.writeFileSync(nodePath.join(worktree, path), content)
    }
    execFileSync("git", ["init", "-q", worktree])
    if (options.commit === true) {
      execFileSync("git", ["-C", worktree, "add", "."])
      // An identity of its own: the machine running the tests may have none.
      execFileSync("git", ["-C", worktree, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "start"])
    }
    // Last: with `core.fsmonitor` set, a git command that reads the index
    // (add, commit) would start Git's own daemon at the socket.
    for (const [key, value] of Object.entries(options.config ?? {})) {
      execFileSync("git", ["-C", worktree, "config", key, value])
    }
    return { dir, worktree }
  })

/**
 * A repository with `f1.txt` and `dir/a.txt` committed (and `config` set:
 * nothing reads the index before the stand-in listens), and the stand-in
 * daemon example serving it for the life of the scope (killed if still
 * running). Its cookie wait is generous: on a loaded machine a query must
 * not fall back to the trivial answer.
 */
export const standIn = (options: Pick<RepositoryOptions, "config"> = {}) =>
  Effect.gen(function*() {
    const { worktree } = yield* gitRepository({
      files: { "f1.txt": "one\n", "dir/a.txt": "a\n" },
      commit: true,
      ...options
    })
    const child = yield* spawnScoped([example, worktree, "10000"], { stdio: "pipe" })
    const log = output(child)
    const monitor = yield* Fsmonitor.make(worktree)
    yield* waitUntil(monitor.isRunning)
    return { worktree, monitor, child, log }
  })
