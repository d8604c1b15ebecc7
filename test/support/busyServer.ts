/**
 * A live server too busy to accept: it listens at argv[2] with a backlog of
 * one, says so on stdout, then blocks its event loop, so the kernel queues
 * one connection and refuses the next ones with EAGAIN.
 */
import * as net from "node:net"

net.createServer().listen({ path: process.argv[2]!, backlog: 1 }, () => {
  process.stdout.write("listening\n", () => {
    // Blocks the event loop, and so every accept, until the process is killed.
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
  })
})
