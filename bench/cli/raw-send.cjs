/**
 * The yardstick for `simple-ipc send --token=ping`: the same round trip
 * (connect, send `ping`, read the response, print it) on plain `node:net`,
 * as small as it gets, in plain CommonJS (no loader to set up).
 * `node raw-send.cjs <socketPath>`.
 */
const Net = require("node:net")

const socket = Net.createConnection({ path: process.argv[2] })
const chunks = []
socket.end("0008ping0000")
socket.on("data", (chunk) => chunks.push(chunk))
socket.on("end", () => {
  const response = Buffer.concat(chunks)
  // One data packet, then the flush: print the payload.
  const length = Number.parseInt(response.subarray(0, 4).toString("latin1"), 16)
  process.stdout.write(`${response.subarray(4, length).toString("latin1")}\n`)
})
