/**
 * Baseline client: Simple IPC on plain `node:net`, one connection per
 * request, written by hand for speed. As a script it is the raw-node client
 * driver: `node bench/ipc/raw-node/client.ts <workload> <socketPath> [k=v...]`.
 */
import * as Net from "node:net"
import { type IpcClient, runClientDriver } from "../driver.ts"
import { MessageReader, writePackets } from "../rawPktLine.ts"

// SPEC 2.2: a busy server (full backlog: EAGAIN / ECONNREFUSED) is retried
// every 50 ms for at most 1 s. Never hit at the benchmark's concurrency, but
// a correct client must not fail on it.
const RETRY_MS = 50
const RETRY_FOR_MS = 1000
const isBusy = (err: NodeJS.ErrnoException): boolean => err.code === "EAGAIN" || err.code === "ECONNREFUSED"

/**
 * One round trip on a fresh connection; every response payload piece goes to
 * `onPayload`. Resolves after the terminating packet; rejects on EOF before
 * it, a malformed response or a socket error.
 */
const roundTrip = (path: string, request: Uint8Array, onPayload: (piece: Buffer) => void): Promise<void> => {
  const deadline = performance.now() + RETRY_FOR_MS
  return new Promise((resolve, reject) => {
    const attempt = () => {
      let connected = false
      const reader = new MessageReader(onPayload)
      const socket = Net.createConnection({ path })
      // Written before 'connect': node queues it and sends as soon as the
      // connection is up, which saves an event-loop turn per request.
      writePackets(socket, request, true)
      socket.on("connect", () => {
        connected = true
      })
      socket.on("data", (chunk: Buffer) => {
        try {
          if (reader.push(chunk)) {
            socket.destroy() // done: disconnect without waiting for the server's FIN
            resolve()
          }
        } catch (err) {
          socket.destroy()
          reject(err)
        }
      })
      socket.on("error", (err: NodeJS.ErrnoException) => {
        if (!connected && isBusy(err) && performance.now() < deadline) {
          setTimeout(attempt, RETRY_MS) // bounded by the deadline
        } else {
          reject(err)
        }
      })
      socket.on("close", (hadError) => {
        if (!hadError && !reader.done) reject(new Error("connection closed before the response's flush"))
      })
    }
    attempt()
  })
}

/** The raw-node {@link IpcClient}. */
export const rawNodeClient: IpcClient = {
  request: async (path, request) => {
    const pieces: Array<Buffer> = []
    let total = 0
    await roundTrip(path, request, (piece) => {
      pieces.push(piece)
      total += piece.length
    })
    return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, total)
  },
  requestStream: (path, request, onChunk) => roundTrip(path, request, onChunk)
}

if (import.meta.main) await runClientDriver(rawNodeClient)
