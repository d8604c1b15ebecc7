/**
 * Waiting for a benchmark's server to listen, shared by the benchmark
 * scripts: each starts its server in a child process and must not begin
 * timing before the socket accepts connections, nor wait for ever on a
 * server that never gets there.
 */
import type { ChildProcess } from "node:child_process"
import * as Net from "node:net"

/** Options of {@link waitListening}. */
export interface WaitListeningOptions {
  /** Give up after this many milliseconds (default 20 000). */
  readonly timeoutMs?: number
  /** Settles when the server's process has gone: there is no point waiting after that. */
  readonly exited?: Promise<unknown>
  /** What the server has said (its stderr, say), appended to the error for diagnosis. */
  readonly output?: () => string
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Whether a connection to `path` is accepted (it is closed at once). */
const canConnect = (path: string): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = Net.createConnection({ path })
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => {
      socket.destroy()
      resolve(false)
    })
  })

/** Settles when `child` has exited, at once if it already has. */
export const exitOf = (child: ChildProcess): Promise<void> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => {
      child.once("exit", () => resolve())
      // A child that could not be started at all emits "error" and no "exit".
      child.once("error", () => resolve())
    })

/**
 * Polls with connection attempts until `path` accepts one. Rejects, naming
 * `path`, if the server exits first or the time limit passes.
 */
export const waitListening = async (path: string, options: WaitListeningOptions = {}): Promise<void> => {
  const timeoutMs = options.timeoutMs ?? 20_000
  const deadline = performance.now() + timeoutMs
  let dead = false
  void options.exited?.then(() => {
    dead = true
  })
  const withOutput = (message: string) => {
    const output = options.output?.().trim()
    return new Error(output ? `${message}:\n${output}` : message)
  }
  while (performance.now() < deadline) {
    if (dead) throw withOutput(`the server for ${path} exited before listening`)
    if (await canConnect(path)) return
    await sleep(5)
  }
  throw withOutput(`no server listening at ${path} after ${timeoutMs} ms`)
}
