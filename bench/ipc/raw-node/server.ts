/**
 * Baseline server: Simple IPC on plain `node:net`, written by hand to be as
 * fast as a careful Node implementation can reasonably be (the practical
 * limit the other implementations are compared with).
 *
 * Run: `node bench/ipc/raw-node/server.ts <socketPath>`.
 */
import * as Net from "node:net"
import type { Reply } from "../app.ts"
import { FLUSH, MessageReader, writePackets } from "../rawPktLine.ts"
import { serverMain, type Serve } from "../serverMain.ts"

const RESOLVED: Promise<void> = Promise.resolve()

const waitForDrain = (socket: Net.Socket): Promise<void> =>
  new Promise((resolve, reject) => {
    // Settle on whichever comes first; a client that went away must not leave
    // the application waiting for a 'drain' that never comes.
    const done = (err?: Error) => {
      socket.off("drain", onDrain)
      socket.off("close", onClose)
      if (err) reject(err)
      else resolve()
    }
    const onDrain = () => done()
    const onClose = () => done(new Error("connection closed while writing"))
    socket.on("drain", onDrain)
    socket.on("close", onClose)
  })

/** Serves `app` on `socketPath` with a `net.Server` (see {@link Serve}). */
export const serve: Serve = (socketPath, app) =>
  new Promise((resolveListening, rejectListening) => {
    let quitting = false
    // allowHalfOpen: a client that shuts down its sending side after the
    // request must still get the response.
    const server = Net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.on("error", () => socket.destroy()) // per-connection failure only (SPEC 6.3)
      const pieces: Array<Buffer> = []
      let total = 0
      const reader = new MessageReader((piece) => {
        pieces.push(piece)
        total += piece.length
      })
      const onData = (chunk: Buffer) => {
        let complete: boolean
        try {
          complete = reader.push(chunk)
        } catch {
          socket.destroy() // malformed request: drop without replying
          return
        }
        if (!complete) return
        socket.off("data", onData) // bytes after the flush are ignored
        const request = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces, total)
        pieces.length = 0
        const reply: Reply = (chunk) => {
          if (socket.destroyed) return Promise.reject(new Error("connection closed"))
          return writePackets(socket, chunk, false) ? RESOLVED : waitForDrain(socket)
        }
        app(request, reply).then(
          (answer) => {
            socket.end(FLUSH)
            if (answer === "quit" && !quitting) {
              quitting = true
              server.close() // stop accepting; in-flight connections finish
            }
          },
          () => socket.destroy()
        )
      }
      socket.on("data", onData)
      // EOF before the flush (including a probe that sends nothing): drop quietly.
      socket.on("end", () => {
        if (!reader.done) socket.destroy()
      })
    })
    const closed = new Promise<void>((resolve) => server.once("close", () => resolve()))
    server.once("error", rejectListening)
    server.listen({ path: socketPath, backlog: 50 }, () => {
      server.off("error", rejectListening)
      server.on("error", (err) => console.error(`server error: ${err.message}`))
      resolveListening({ closed })
    })
  })

if (import.meta.main) await serverMain(serve)
