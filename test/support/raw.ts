/**
 * Raw-socket peers for tests: a client that sends exact bytes and records
 * exactly what comes back, a fake server that answers fixed bytes, and a
 * server that leaves each connection to the test.
 */
import { Duration, Effect, Schedule } from "effect"
import * as fs from "node:fs"
import * as net from "node:net"

export interface Exchange {
  readonly response: Uint8Array
  /** The server closed (or ended) the connection. */
  readonly closed: boolean
}

/**
 * Connects, writes `request`, optionally half-closes, and collects every
 * byte until the server closes the connection.
 */
export const exchange = (path: string, request: Uint8Array, options?: { halfClose?: boolean; timeoutMs?: number }) =>
  Effect.callback<Exchange, Error>((resume) => {
    const chunks: Array<Buffer> = []
    const socket = net.connect({ path, allowHalfOpen: true })
    const timer = setTimeout(() => {
      socket.destroy()
      resume(Effect.succeed({ response: Buffer.concat(chunks), closed: false }))
    }, options?.timeoutMs ?? 10_000)
    socket.on("connect", () => {
      if (request.length > 0) socket.write(request)
      if (options?.halfClose) socket.end()
    })
    socket.on("data", (chunk) => chunks.push(chunk))
    socket.on("error", () => {})
    socket.on("close", () => {
      clearTimeout(timer)
      resume(Effect.succeed({ response: new Uint8Array(Buffer.concat(chunks)), closed: true }))
    })
    socket.on("end", () => socket.end())
    return Effect.sync(() => {
      clearTimeout(timer)
      socket.destroy()
    })
  })

/**
 * A fake server at `path` that answers every connection with `response`
 * (after the first bytes of the request arrive) and then closes.
 */
export const fakeServer = (path: string, response: Uint8Array) =>
  Effect.acquireRelease(
    Effect.callback<net.Server, Error>((resume) => {
      const server = net.createServer({ allowHalfOpen: true }, (socket) => {
        socket.on("error", () => {})
        socket.once("data", () => {
          socket.end(response)
        })
        // A client that hangs up without sending (a probe) is closed too,
        // or the server could never finish closing.
        socket.on("end", () => socket.end())
      })
      server.on("error", (e) => resume(Effect.fail(e)))
      server.listen(path, () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.callback<void>((resume) => {
      server.close(() => resume(Effect.void))
      fs.rmSync(path, { force: true })
    })
  )

/**
 * A server at `path` that hands each connection to `answer` once the first
 * bytes of its request arrive.
 */
export const peer = (path: string, answer: (socket: net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.callback<net.Server>((resume) => {
      const server = net.createServer((socket) => {
        socket.on("error", () => {})
        socket.once("data", () => answer(socket))
      })
      server.listen(path, () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
  )

/** Polls `check` every 10 ms until it holds, failing after `timeout`. */
export const waitUntil = <E, R>(check: Effect.Effect<boolean, E, R>, timeout: Duration.Input = Duration.seconds(10)) =>
  check.pipe(
    Effect.filterOrFail((ok) => ok, () => new Error("condition not met yet")),
    Effect.retry({ schedule: Schedule.spaced(Duration.millis(10)).pipe(Schedule.upTo({ duration: timeout })) }),
    Effect.asVoid
  )

/** Open file descriptors of this process (Linux). */
export const openFds = (): number => fs.readdirSync("/proc/self/fd").length

/**
 * Handles keeping the event loop alive, counted by kind; timers are left
 * out, since the Effect runtime itself schedules them while it runs.
 */
export const activeHandles = (): Map<string, number> => {
  const counts = new Map<string, number>()
  for (const kind of process.getActiveResourcesInfo()) {
    if (kind === "Timeout" || kind === "Immediate" || kind === "TTYWrap") continue
    counts.set(kind, (counts.get(kind) ?? 0) + 1)
  }
  return counts
}

/** Whether every kind of handle is at most as numerous as in `baseline`. */
export const noMoreHandlesThan = (baseline: Map<string, number>): boolean =>
  [...activeHandles()].every(([kind, n]) => n <= (baseline.get(kind) ?? 0))

/**
 * Waits until the process holds no more descriptors or handles than it did
 * at the baseline (closing sockets release theirs a few event-loop turns
 * after `destroy`).
 */
export const baseline = () => {
  const fds = openFds()
  const handles = activeHandles()
  return waitUntil(Effect.sync(() => openFds() <= fds && noMoreHandlesThan(handles)))
}
