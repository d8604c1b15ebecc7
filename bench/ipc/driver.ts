/**
 * The client side of every IPC workload, shared by all implementations: an
 * implementation's client driver script supplies an {@link IpcClient} and
 * calls {@link runClientDriver}; the loops, timing, checks and RSS figures
 * live here so that every implementation is measured identically.
 *
 * Driver command line: `node <driver> <workload> <socketPath> [key=value...]`;
 * prints one line of JSON, a {@link DriverResult}, on stdout.
 */
import { median, percentile } from "../stats.ts"
import { peakRssMiB } from "./rss.ts"

/** What a client implementation must provide to be benchmarked. */
export interface IpcClient {
  /**
   * One round trip: connect to `socketPath`, send `request` as one message,
   * read the whole response message, disconnect; resolves to the response's
   * payload bytes. Many calls may be in flight at once.
   */
  readonly request: (socketPath: string, request: Uint8Array) => Promise<Uint8Array>
  /**
   * Like `request`, but hands the response to `onChunk` piece by piece as it
   * arrives and never holds all of it; resolves after the terminating flush.
   */
  readonly requestStream: (
    socketPath: string,
    request: Uint8Array,
    onChunk: (chunk: Uint8Array) => void
  ) => Promise<void>
  /** Releases whatever the client keeps open (optional). */
  readonly close?: () => Promise<void>
}

/** Identifiers of the workloads. */
export type WorkloadId = "W1" | "W2" | "W3a" | "W3b" | "W4"

/** One measured figure. `better` tells how to read a ratio against the baseline. */
export interface Metric {
  readonly metric: string
  readonly value: number
  readonly unit: string
  readonly better: "higher" | "lower"
}

/** What a driver prints. */
export interface DriverResult {
  readonly workload: WorkloadId
  readonly metrics: ReadonlyArray<Metric>
}

/** Workload parameters, as `key=value` arguments on the driver's command line. */
export type Params = Readonly<Record<string, number>>

const latin1 = (s: string): Buffer => Buffer.from(s, "latin1")

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.length).equals(b)

const sendbytesRequest = (n: number): Buffer => {
  const prefix = "sendbytes "
  const out = Buffer.allocUnsafe(prefix.length + n)
  out.write(prefix, "latin1")
  out.fill(0x78, prefix.length)
  return out
}

const rcvd = (n: number): Buffer => latin1(`rcvd:x${String(n).padStart(8, "0")}\n`)

const expectBytes = (what: string, got: Uint8Array, want: Uint8Array): void => {
  if (!sameBytes(got, want)) {
    const shown = Buffer.from(got.subarray(0, 60)).toString("latin1")
    throw new Error(`${what}: unexpected response ${JSON.stringify(shown)} (${got.length} bytes)`)
  }
}

/** Streams `stream <bytes>` and returns the byte count received (content discarded). */
const streamOnce = async (client: IpcClient, path: string, bytes: number): Promise<number> => {
  let received = 0
  await client.requestStream(path, latin1(`stream ${bytes}`), (chunk) => {
    received += chunk.length
  })
  if (received !== bytes) throw new Error(`stream: received ${received} bytes, expected ${bytes}`)
  return received
}

const mbPerSec = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000)

const p = (params: Params, key: string, fallback: number): number => params[key] ?? fallback

/**
 * W1: `concurrency` clients issue `requests` sendbytes requests in total
 * (`ballast` bytes each), each on its own connection if the client does so.
 */
const w1 = async (client: IpcClient, path: string, params: Params): Promise<Array<Metric>> => {
  const total = p(params, "requests", 8000)
  const concurrency = p(params, "concurrency", 8)
  const ballast = p(params, "ballast", 90)
  const request = sendbytesRequest(ballast)
  const expected = rcvd(ballast)
  const batch = async (count: number) => {
    let next = 0
    const worker = async () => {
      while (next < count) { // bounded: `next` only grows
        next++
        expectBytes("sendbytes", await client.request(path, request), expected)
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
  }
  await batch(p(params, "warmup", 200)) // JIT and connection set-up out of the timing
  const start = performance.now()
  await batch(total)
  const ms = performance.now() - start
  return [{ metric: "throughput", value: total / (ms / 1000), unit: "req/s", better: "higher" }]
}

/** W2: sequential `ping` round trips; p50 and p99 latency. */
const w2 = async (client: IpcClient, path: string, params: Params): Promise<Array<Metric>> => {
  const ping = latin1("ping")
  const pong = latin1("pong")
  for (let i = 0; i < p(params, "warmup", 200); i++) expectBytes("ping", await client.request(path, ping), pong)
  const n = p(params, "requests", 2000)
  const micros = new Array<number>(n)
  for (let i = 0; i < n; i++) {
    const start = performance.now()
    const response = await client.request(path, ping)
    micros[i] = (performance.now() - start) * 1000
    expectBytes("ping", response, pong)
  }
  return [
    { metric: "latency p50", value: percentile(micros, 50), unit: "µs", better: "lower" },
    { metric: "latency p99", value: percentile(micros, 99), unit: "µs", better: "lower" }
  ]
}

/**
 * Times `once` (which moves `bytes`): first a single cold run, right after
 * the small warm-up; then `warmup` untimed runs; then `reps` timed ones.
 * Returns the median of the timed runs and, apart, the cold figure.
 *
 * A 100 MB transfer takes a few dozen milliseconds and about 1600 reads:
 * too few for the JIT to finish with a client's read loop, and while it
 * compiles, the code it allocates makes the collector run more often. The
 * cold run measures how fast code warms up; the timed runs, the steady
 * state a process that moves many large messages reaches.
 */
const coldAndWarm = async (
  what: string,
  bytes: number,
  params: Params,
  once: () => Promise<void>
): Promise<Array<Metric>> => {
  const timed = async () => {
    const start = performance.now()
    await once()
    return performance.now() - start
  }
  const cold = await timed()
  for (let i = 0; i < p(params, "warmup", 0); i++) await once()
  const times: Array<number> = []
  for (let i = 0; i < p(params, "reps", 5); i++) times.push(await timed())
  return [
    { metric: `${what} throughput`, value: mbPerSec(bytes, median(times)), unit: "MB/s", better: "higher" },
    { metric: `first ${what} throughput`, value: mbPerSec(bytes, cold), unit: "MB/s", better: "higher" }
  ]
}

/**
 * W3a: one large `sendbytes` request (`bytes` of ballast), once cold, then
 * `warmup` and `reps` times; MB/s of request bytes (see {@link coldAndWarm}).
 */
const w3a = async (client: IpcClient, path: string, params: Params): Promise<Array<Metric>> => {
  const bytes = p(params, "bytes", 50 * 1024 * 1024)
  const warm = Math.min(bytes, 1024 * 1024)
  expectBytes("sendbytes", await client.request(path, sendbytesRequest(warm)), rcvd(warm))
  const request = sendbytesRequest(bytes) // built outside the timing
  const expected = rcvd(bytes)
  return coldAndWarm("request", request.length, params, async () => {
    expectBytes("sendbytes", await client.request(path, request), expected)
  })
}

/**
 * W3b: one large streamed response (`stream <bytes>`), once cold, then
 * `warmup` and `reps` times; MB/s (see {@link coldAndWarm}).
 */
const w3b = async (client: IpcClient, path: string, params: Params): Promise<Array<Metric>> => {
  const bytes = p(params, "bytes", 100 * 1024 * 1024)
  await streamOnce(client, path, Math.min(bytes, 1024 * 1024))
  return coldAndWarm("response", bytes, params, async () => {
    await streamOnce(client, path, bytes)
  })
}

/**
 * W4: one huge streamed response, consumed and discarded; this process's
 * peak RSS (the harness adds the server's). No warm-up: the peak is the point.
 */
const w4 = async (client: IpcClient, path: string, params: Params): Promise<Array<Metric>> => {
  const bytes = p(params, "bytes", 1024 * 1024 * 1024)
  const start = performance.now()
  await streamOnce(client, path, bytes)
  const ms = performance.now() - start
  return [
    { metric: "client peak RSS", value: peakRssMiB(), unit: "MiB", better: "lower" },
    { metric: "response throughput", value: mbPerSec(bytes, ms), unit: "MB/s", better: "higher" }
  ]
}

const workloads: Record<WorkloadId, (client: IpcClient, path: string, params: Params) => Promise<Array<Metric>>> = {
  W1: w1,
  W2: w2,
  W3a: w3a,
  W3b: w3b,
  W4: w4
}

/** Parses `key=value` arguments (numbers only). */
export const parseParams = (args: ReadonlyArray<string>): Params => {
  const out: Record<string, number> = {}
  for (const arg of args) {
    const m = /^([A-Za-z]+)=(\d+)$/.exec(arg)
    if (!m) throw new Error(`bad parameter ${JSON.stringify(arg)} (want key=<integer>)`)
    out[m[1]!] = Number(m[2])
  }
  return out
}

/**
 * Runs the workload named on the command line with `client`, prints the
 * {@link DriverResult} as JSON and exits (0 on success; 1 with the error on
 * stderr otherwise). Exiting explicitly keeps a client that leaves handles
 * open from hanging the harness.
 */
export const runClientDriver = async (
  client: IpcClient,
  argv: ReadonlyArray<string> = process.argv.slice(2)
): Promise<never> => {
  try {
    const [workload, socketPath, ...rest] = argv
    if (workload === undefined || socketPath === undefined || !(workload in workloads)) {
      throw new Error(`usage: <driver> <${Object.keys(workloads).join("|")}> <socketPath> [key=value...]`)
    }
    const id = workload as WorkloadId
    const metrics = await workloads[id](client, socketPath, parseParams(rest))
    await client.close?.()
    const result: DriverResult = { workload: id, metrics }
    process.stdout.write(JSON.stringify(result) + "\n")
    // Let stdout drain before exiting (it is a pipe to the harness).
    await new Promise<void>((resolve) => process.stdout.write("", () => resolve()))
    process.exit(0)
  } catch (err) {
    console.error(err instanceof Error ? (err.stack ?? err.message) : String(err))
    process.exit(1)
  }
}
