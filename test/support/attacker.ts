/**
 * A hostile local peer, as a process of its own: it holds connections
 * that would each starve a server that gives a worker to every connection
 * it reads, and opens a new one whenever the server drops one.
 *
 * `node attacker.ts <path> <trickling> <silent> <nonReading>`
 * - trickling: sends a valid request one byte a second;
 * - silent: connects and sends nothing;
 * - non-reading: asks for the `big` response and never reads it.
 *
 * Prints `ready` once every connection is open, then `drops <n>` each
 * second with how many the server has dropped so far. Runs until killed.
 */
import * as net from "node:net"

const [path, trickling, silent, nonReading] = [
  process.argv[2]!,
  Number(process.argv[3]),
  Number(process.argv[4]),
  Number(process.argv[5])
]

let drops = 0
let opened = 0
const total = trickling + silent + nonReading

const open = (start: (socket: net.Socket) => void) => {
  const socket = net.connect({ path, allowHalfOpen: true })
  socket.on("error", () => {})
  socket.on("connect", () => {
    if (++opened === total) process.stdout.write("ready\n")
    start(socket)
  })
  socket.on("close", () => {
    drops++
    // Hostile to the end: the next one takes its place.
    setTimeout(() => open(start), 10)
  })
}

const trickle = (socket: net.Socket) => {
  const request = Buffer.from("0008ping0000")
  let sent = 0
  const timer = setInterval(() => {
    if (socket.destroyed || sent === request.length) return clearInterval(timer)
    socket.write(request.subarray(sent, ++sent))
  }, 1000)
  socket.on("close", () => clearInterval(timer))
}

const neverRead = (socket: net.Socket) => {
  socket.pause()
  socket.write("0007big0000")
}

for (let i = 0; i < trickling; i++) open(trickle)
for (let i = 0; i < silent; i++) open(() => {})
for (let i = 0; i < nonReading; i++) open(neverRead)
setInterval(() => process.stdout.write(`drops ${drops}\n`), 1000)
