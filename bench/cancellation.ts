/**
 * How soon a server notices that a client has gone: the time from a
 * client's hang-up (its socket destroyed while its request runs) to the
 * interruption of the request's application in the server's process.
 *
 * The server runs in a child process with one place (`threads: 1`), so
 * each round also shows that the place was given back: the next request
 * could not start otherwise. Times are wall-clock (`performance.timeOrigin
 * + performance.now()`), comparable across the two processes.
 *
 * `node bench/cancellation.ts [rounds]` (default 200) prints the median,
 * 99th percentile and worst latency in milliseconds.
 */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import * as net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { exitOf, waitListening } from "./listening.ts"
import { median, percentile } from "./stats.ts"

const now = () => performance.timeOrigin + performance.now()

const serve = async (path: string) => {
  const { Effect } = await import("effect")
  const Server = await import("../src/server/Server.ts")
  const program = Server.run(path, () =>
    Effect.andThen(Effect.sync(() => process.stdout.write("started\n")), Effect.never).pipe(
      Effect.onInterrupt(() => Effect.sync(() => process.stdout.write(`interrupted ${now()}\n`)))
    ), { threads: 1 })
  await Effect.runPromise(program)
}

const measure = async (rounds: number) => {
  const dir = mkdtempSync(join(tmpdir(), "sipc-bench-cancel-"))
  const path = join(dir, "s.sock")
  const server = spawn(process.execPath, [fileURLToPath(import.meta.url), "server", path], { stdio: ["ignore", "pipe", "inherit"] })
  const lines: Array<string> = []
  let waiter: (() => void) | undefined
  let buffered = ""
  server.stdout.on("data", (chunk: Buffer) => {
    buffered += String(chunk)
    const parts = buffered.split("\n")
    buffered = parts.pop()!
    lines.push(...parts)
    waiter?.()
  })
  const nextLine = async (): Promise<string> => {
    while (lines.length === 0) await new Promise<void>((resolve) => (waiter = resolve))
    return lines.shift()!
  }
  const connect = () =>
    new Promise<net.Socket>((resolve, reject) => {
      const socket = net.connect(path, () => resolve(socket))
      socket.on("error", reject)
    })
  const latencies: Array<number> = []
  try {
    await waitListening(path, { exited: exitOf(server) })
    for (let i = 0; i < rounds; i++) {
      const socket = await connect()
      socket.on("error", () => {})
      socket.write("0008hold0000")
      if ((await nextLine()) !== "started") throw new Error("the server did not start the request")
      const hungUp = now()
      socket.destroy()
      const line = await nextLine()
      latencies.push(Number(line.split(" ")[1]) - hungUp)
    }
  } finally {
    server.kill("SIGKILL")
    rmSync(dir, { recursive: true, force: true })
  }
  const round = (x: number) => Math.round(x * 100) / 100
  console.log(
    `hang-up to interruption over ${rounds} rounds: median ${round(median(latencies))} ms, p99 ${round(percentile(latencies, 99))} ms, worst ${
      round(Math.max(...latencies))
    } ms`
  )
}

if (process.argv[2] === "server") await serve(process.argv[3]!)
else await measure(Number(process.argv[2] ?? 200))
