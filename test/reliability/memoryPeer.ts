/**
 * A process whose memory a test measures while it reads messages of
 * hostile shape (see packetShape.test.ts). Its memory is its own: the test
 * runner's heap cannot blur the figures.
 *
 * `node memoryPeer.ts server <path> [maxRequestBytes]` serves at `path`,
 * answering each request with its length as text; on SIGUSR2 it prints its
 * memory since the last SIGUSR2 (or its start) as one line of JSON, then
 * collects its garbage (with --expose-gc) and starts a new peak.
 *
 * `node memoryPeer.ts request|stream|forEach <path> <bytes>` makes one
 * request to the server at `path` and prints one line of JSON: how it ended,
 * the payload bytes and chunks it received, the time taken and the peak
 * memory while it ran. `request` collects the response with
 * `maxResponseBytes` set to `bytes`; `stream` (`Client.requestStream`) and
 * `forEach` (`Client.requestForEach`) read until `bytes` payload bytes have
 * come, then stop.
 */
import { Effect, Stream } from "effect"
import * as fs from "node:fs"
import * as Client from "../../src/client/Client.ts"
import * as Server from "../../src/server/Server.ts"
import { runAndExit } from "../support/runAndExit.ts"

/** What a peer reports about its memory since its last reset, in bytes. */
export interface Memory {
  /** The resident set at the reset, after a full collection. */
  readonly rssAtReset: number
  /** The highest resident set since (the kernel's high-water mark). */
  readonly peakRss: number
  /** The highest V8 heap use seen since (sampled every 5 ms). */
  readonly peakHeapUsed: number
}

/** What a client peer reports. */
export interface ClientReport {
  readonly outcome: string
  readonly bytes: number
  readonly chunks: number
  readonly millis: number
  /** Memory since the request started. */
  readonly memory: Memory
}

const highWaterMark = (): number => {
  const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync("/proc/self/status", "latin1"))
  return m ? Number(m[1]) * 1024 : process.resourceUsage().maxRSS * 1024
}

// The heap is sampled, since V8 keeps no peak of its own; the resident set
// has an exact peak, which writing 5 to clear_refs resets (Linux).
let peakHeapUsed = 0
let rssAtReset = 0
const sampler = setInterval(() => {
  peakHeapUsed = Math.max(peakHeapUsed, process.memoryUsage().heapUsed)
}, 5)
sampler.unref()

const resetPeaks = () => {
  ;(globalThis as { gc?: () => void }).gc?.()
  try {
    fs.writeFileSync("/proc/self/clear_refs", "5")
  } catch {
    // Without it the peak is the process's lifetime peak: only larger.
  }
  const usage = process.memoryUsage()
  peakHeapUsed = usage.heapUsed
  rssAtReset = usage.rss
}

const memory = (): Memory => ({
  rssAtReset,
  peakRss: highWaterMark(),
  peakHeapUsed: Math.max(peakHeapUsed, process.memoryUsage().heapUsed)
})

const [mode, path, size] = process.argv.slice(2) as [string, string, string | undefined]

/** Stops a response read once enough has come. */
class Enough {
  readonly _tag = "Enough"
}

/** Makes the request; answers the payload bytes and chunks received. */
const client = (bytes: number) => {
  let received = 0
  let chunks = 0
  const count = (chunk: Uint8Array) => {
    received += chunk.length
    chunks++
    return received >= bytes ? Effect.fail(new Enough()) : Effect.void
  }
  const read = (): Effect.Effect<void, Client.ConnectError | Client.RequestError | Enough> => {
    switch (mode) {
      case "request":
        return Effect.map(Client.request(path, "ping", { maxResponseBytes: bytes }), (response) => {
          received = response.length
          chunks = 1
        })
      case "stream":
        return Stream.runForEach(Client.requestStream(path, "ping"), count)
      case "forEach":
        return Client.requestForEach(path, "ping", count)
      default:
        throw new Error(`unknown mode ${mode}`)
    }
  }
  return read().pipe(
    Effect.catchTag("Enough", () => Effect.void),
    Effect.map(() => ({ received, chunks }))
  )
}

/** How a request failed: the error's tag, and its reason if it has one (`PktLineError:MessageTooLarge`). */
const failureOf = (error: { readonly _tag: string; readonly reason?: unknown }) =>
  `${error._tag}:${typeof error.reason === "string" ? error.reason : ""}`

if (mode === "server") {
  process.on("SIGUSR2", () => {
    process.stdout.write(`${JSON.stringify(memory())}\n`)
    resetPeaks()
  })
  const handler: Server.Handler<never> = (request, reply) => Effect.orDie(reply(String(request.length)))
  const options = size === undefined ? {} : { maxRequestBytes: Number(size) }
  resetPeaks()
  runAndExit(Server.run(path, handler, options))
} else {
  resetPeaks()
  const started = performance.now()
  const exit = await Effect.runPromise(Effect.exit(client(Number(size))))
  const report: ClientReport = {
    outcome: exit._tag === "Success"
      ? "Success"
      : exit.cause.reasons.map((r) => r._tag === "Fail" ? failureOf(r.error) : r._tag).join(","),
    bytes: exit._tag === "Success" ? exit.value.received : 0,
    chunks: exit._tag === "Success" ? exit.value.chunks : 0,
    millis: Math.round(performance.now() - started),
    memory: memory()
  }
  process.stdout.write(`${JSON.stringify(report)}\n`)
  process.exit(0)
}
