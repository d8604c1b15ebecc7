/**
 * IPC benchmarks: each implementation's server and client run in separate
 * child processes, as a user would run them; the client driver measures wall
 * time in its own process and reports JSON (see ./ipc/driver.ts).
 *
 * Every run gets a fresh socket directory and a fresh server, so that peak
 * RSS belongs to one workload and no state carries over. Implementations run
 * interleaved within each round so that drift on a noisy machine affects
 * them alike; the reported figure is the median over runs.
 *
 * `BENCH_QUICK=1`: one run, smaller sizes (smoke test). `BENCH_RUNS=<n>`
 * overrides the run count. `BENCH_IMPLS=a,b` and `BENCH_WORKLOADS=W1,W4`
 * select a subset. `BENCH_RPC_TRACING=off`: every effect/rpc server and
 * client with `disableTracing` (default: effect/rpc's defaults).
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { DriverResult, Metric, WorkloadId } from "./ipc/driver.ts"
import { peakRssMiB } from "./ipc/rss.ts"
import { waitListening } from "./listening.ts"
import { median } from "./stats.ts"

/** One implementation under test. */
export interface Implementation {
  /** Arguments for `node` that start this implementation's server listening on `socketPath`. */
  readonly serverArgs: (socketPath: string) => ReadonlyArray<string>
  /**
   * Path of the client driver script: `node <clientScript> <workload>
   * <socketPath> [key=value...]` prints a `DriverResult` as JSON on stdout.
   */
  readonly clientScript: string
  /** Workloads it takes part in (default: all). */
  readonly workloads?: ReadonlyArray<WorkloadId>
  /** How to read its figures, printed under the table. */
  readonly note?: string
}

const here = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url))

/**
 * The implementations, baseline first. To add one, add an entry with its own
 * server script and client driver:
 *
 * - server script: `node <script> <socketPath>` listens on socketPath
 *   (backlog 50), serves the benchmark application and exits on SIGTERM.
 *   Easiest: `await serverMain(serve)` from ./ipc/serverMain.ts, where
 *   `serve(socketPath, app)` runs the implementation's server with `app`.
 * - client driver: `await runClientDriver(client)` from ./ipc/driver.ts, where
 *   `client` is an `IpcClient` ({ request, requestStream }).
 *
 * @example
 * ```ts
 * implementations["ours"] = {
 *   serverArgs: (socketPath) => [here("./ipc/ours/server.ts"), socketPath],
 *   clientScript: here("./ipc/ours/client.ts")
 * }
 * ```
 */
export const implementations: Record<string, Implementation> = {
  "raw-node": {
    serverArgs: (socketPath) => [here("./ipc/raw-node/server.ts"), socketPath],
    clientScript: here("./ipc/raw-node/client.ts"),
    note: "hand-written node:net pkt-line server and client; one connection per request"
  },
  "ours": {
    serverArgs: (socketPath) => [here("./ipc/ours/server.ts"), socketPath],
    clientScript: here("./ipc/ours/client.ts"),
    note: "this library: Server.run and Client.request / Client.requestStream, one connection per request"
  },
  "ours-foreach": {
    serverArgs: (socketPath) => [here("./ipc/ours/server.ts"), socketPath],
    clientScript: here("./ipc/ours/client-foreach.ts"),
    workloads: ["W3b", "W4"],
    note: "this library's server, and a client reading the streamed response with Client.requestForEach " +
      "(pieces lent from one reused read buffer, each valid until its callback completes)"
  },
  "raw-node+effect": {
    serverArgs: (socketPath) => [here("./ipc/raw-node/server.ts"), socketPath],
    clientScript: here("./ipc/raw-node/client-effect-loaded.ts"),
    workloads: ["W3b", "W4"],
    note: "the raw-node server and client, the client in a process that has imported this library (and so " +
      "Effect) without using it: the cost of an Effect-sized heap alone to a client that allocates a buffer per read"
  },
  "ours-rpc": {
    serverArgs: (socketPath) => [here("./ipc/ours-rpc/server.ts"), socketPath],
    clientScript: here("./ipc/ours-rpc/client.ts"),
    workloads: ["W1", "W2"],
    note: "this library's effect/rpc transport: the effect-rpc group and handlers served by RpcServer.layer on " +
      "SimpleIpcRpc.layerProtocolServer, called by one RpcClient on SimpleIpcRpc.layerProtocolClient; every call " +
      "a connection of its own, as in W1. Every effect/rpc row (this one and the two below) runs RpcServer " +
      "and RpcClient with the same options: their defaults, a span per call with no tracer installed " +
      "(BENCH_RPC_TRACING=off: disableTracing for all of them)"
  },
  "ours-rpc-client": {
    serverArgs: (socketPath) => [here("./ipc/ours-rpc/wire-server.ts"), socketPath],
    clientScript: here("./ipc/ours-rpc/client.ts"),
    workloads: ["W1"],
    note: "the ours-rpc client alone: against a hand-written node:net server that answers the RPC wire at " +
      "once, so the figure is the RPC client's own ceiling, whatever the server"
  },
  "ours-rpc-protocol": {
    serverArgs: (socketPath) => [here("./ipc/ours-rpc/wire-server.ts"), socketPath],
    clientScript: here("./ipc/ours-rpc/client-protocol-only.ts"),
    workloads: ["W1"],
    note: "the same server; the client drives SimpleIpcRpc's client protocol with the encoded requests " +
      "RpcClient would send, without RpcClient: what is left of ours-rpc-client's time is RpcClient's own"
  },
  "ours-client": {
    serverArgs: (socketPath) => [here("./ipc/raw-node/server.ts"), socketPath],
    clientScript: here("./ipc/ours/client.ts"),
    workloads: ["W1"],
    note: "this library's untyped client alone, against the raw-node server: the ceiling the two rows above " +
      "compare with"
  },
  "effect-rpc": {
    serverArgs: (socketPath) => [here("./ipc/effect-rpc/server.ts"), socketPath],
    clientScript: here("./ipc/effect-rpc/client.ts"),
    workloads: ["W1", "W2"],
    note: "effect/rpc over a Unix socket (ndjson), persistent-connection variant: ONE client connection, " +
      "W1's 8 concurrent callers multiplexed on it (what an RPC user would do), so W1/W2 exclude " +
      "connection set-up and teardown: a different workload from the one W1 defines, not comparable to the others"
  },
  "effect-rpc-conn": {
    serverArgs: (socketPath) => [here("./ipc/effect-rpc/server.ts"), socketPath],
    clientScript: here("./ipc/effect-rpc/client-per-connection.ts"),
    workloads: ["W1", "W2"],
    note: "effect/rpc over a Unix socket (ndjson), same server as effect-rpc, one connection per request " +
      "like the pkt-line implementations: each request builds a fresh RpcClient on a fresh connection " +
      "in its own scope and closes it after its one call"
  }
}

/** The implementation ratios are computed against. */
export const BASELINE = "raw-node"

interface WorkloadSpec {
  readonly id: WorkloadId
  readonly title: string
  readonly params: Readonly<Record<string, number>>
  /** The server's peak RSS is part of the result. */
  readonly serverRss?: boolean
  /** Upper bound on one client run before it is killed and counted as failed. */
  readonly timeoutMs: number
}

const MiB = 1024 * 1024

/** Workload definitions; `quick` shrinks them for a smoke test. */
export const workloadSpecs = (quick: boolean): ReadonlyArray<WorkloadSpec> => [
  // W1 and W2 time the steady state: their warm-up is long enough for V8 to
  // have optimised each implementation's per-request path. A client's cost
  // per request keeps falling for its first several thousand requests (by
  // half for this library's client, and more for the effect/rpc rows, whose
  // path runs more code), so a short warm-up times the JIT, not the code.
  {
    id: "W1",
    title: "W1 8 clients × sendbytes 90 B",
    params: quick ? { requests: 800, concurrency: 8, ballast: 90, warmup: 80 } : { requests: 8000, concurrency: 8, ballast: 90, warmup: 10_000 },
    timeoutMs: 120_000
  },
  {
    id: "W2",
    title: "W2 ping round trip",
    params: quick ? { requests: 300, warmup: 50 } : { requests: 2000, warmup: 2000 },
    timeoutMs: 120_000
  },
  {
    id: "W3a",
    title: quick ? "W3a 5 MiB request" : "W3a 50 MiB request",
    params: quick ? { bytes: 5 * MiB, reps: 1 } : { bytes: 50 * MiB, warmup: 20, reps: 5 },
    timeoutMs: 180_000
  },
  {
    id: "W3b",
    title: quick ? "W3b 10 MiB streamed response" : "W3b 100 MiB streamed response",
    params: quick ? { bytes: 10 * MiB, reps: 1 } : { bytes: 100 * MiB, warmup: 10, reps: 5 },
    timeoutMs: 180_000
  },
  {
    id: "W4",
    title: quick ? "W4 64 MiB stream, peak RSS" : "W4 1 GiB stream, peak RSS",
    params: quick ? { bytes: 64 * MiB } : { bytes: 1024 * MiB },
    serverRss: true,
    timeoutMs: 300_000
  }
]

/** One line of the result table. `ratio` is value ÷ the baseline's value. */
export interface Row {
  readonly workload: string
  readonly impl: string
  readonly metric: string
  readonly value: number | null
  readonly unit: string
  readonly better: "higher" | "lower"
  readonly ratio: number | null
  readonly runs: number
  readonly error?: string
}

// ---------------------------------------------------------------------------
// Child processes: every one is tracked until it has exited, and killed on
// every path out (normal end, error, timeout, Ctrl-C, harness exit).

const children = new Set<ChildProcess>()
const socketDirs = new Set<string>()

// Last resort on the way out (exit, Ctrl-C): `finally` blocks do not run
// after process.exit, so kill and remove synchronously here.
const killAllSync = () => {
  for (const child of children) child.kill("SIGKILL")
  for (const dir of socketDirs) rmSync(dir, { recursive: true, force: true })
}
let exitHookInstalled = false
const installExitHooks = () => {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once("exit", killAllSync)
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      killAllSync()
      process.exit(130)
    })
  }
}

interface Spawned {
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  readonly output: () => { stdout: string; stderr: string }
}

const TAIL = 16 * 1024 // keep only the end of a child's output (diagnostics)

const spawnNode = (args: ReadonlyArray<string>): Spawned => {
  // process.execPath: the very Node running the harness (Node 24 from the
  // devDependency under `npx node`), started directly so that child.pid is
  // the process whose memory we read.
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] })
  children.add(child)
  let stdout = ""
  let stderr = ""
  // Always drain the pipes: a child blocked on a full pipe would stall.
  child.stdout!.setEncoding("utf8").on("data", (s: string) => {
    stdout = (stdout + s).slice(-TAIL)
  })
  child.stderr!.setEncoding("utf8").on("data", (s: string) => {
    stderr = (stderr + s).slice(-TAIL)
  })
  const exited = new Promise<number | null>((resolve) => {
    child.once("error", () => {
      children.delete(child)
      resolve(null)
    })
    child.once("close", (code) => {
      children.delete(child)
      resolve(code)
    })
  })
  return { child, exited, output: () => ({ stdout, stderr }) }
}

/** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
const stop = async (p: Spawned, graceMs = 2000): Promise<void> => {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return p.exited.then(() => undefined)
  p.child.kill("SIGTERM")
  const timer = setTimeout(() => p.child.kill("SIGKILL"), graceMs)
  await p.exited
  clearTimeout(timer)
}

const withTimeout = <A>(promise: Promise<A>, ms: number, onTimeout: () => void): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout()
        reject(new Error(`timed out after ${ms} ms`))
      }, ms)
    })
  ]).finally(() => clearTimeout(timer))
}

/** One run: fresh directory, fresh server, one client process; everything removed afterwards. */
const runOnce = async (impl: Implementation, spec: WorkloadSpec): Promise<Array<Metric>> => {
  const dir = mkdtempSync(join(tmpdir(), "ipc-bench-"))
  socketDirs.add(dir)
  const socketPath = join(dir, "s")
  let server: Spawned | undefined
  let client: Spawned | undefined
  try {
    const s = spawnNode(impl.serverArgs(socketPath))
    server = s
    await waitListening(socketPath, { exited: s.exited, output: () => s.output().stderr })
    const params = Object.entries(spec.params).map(([k, v]) => `${k}=${v}`)
    client = spawnNode([impl.clientScript, spec.id, socketPath, ...params])
    const c = client
    const code = await withTimeout(c.exited, spec.timeoutMs, () => c.child.kill("SIGKILL"))
    const { stdout, stderr } = c.output()
    if (code !== 0) throw new Error(`client exited with ${code}:\n${stderr.trim()}`)
    const line = stdout.trim().split("\n").at(-1) ?? ""
    const result = JSON.parse(line) as DriverResult
    const metrics = [...result.metrics]
    if (spec.serverRss) {
      // Read before stopping it: VmHWM is the server's exact lifetime peak.
      metrics.unshift({ metric: "server peak RSS", value: peakRssMiB(server.child.pid!), unit: "MiB", better: "lower" })
    }
    return metrics
  } finally {
    if (client) await stop(client)
    if (server) await stop(server)
    rmSync(dir, { recursive: true, force: true })
    socketDirs.delete(dir)
  }
}

/** Options of {@link run}. */
export interface RunOptions {
  /** Smaller sizes (default: env BENCH_QUICK=1). */
  readonly quick?: boolean
  /** Runs per workload and implementation (default: env BENCH_RUNS, else 5; 1 when quick). */
  readonly runs?: number
  /** Implementations to run (default: env BENCH_IMPLS, else all). */
  readonly impls?: ReadonlyArray<string>
  /** Workloads to run (default: env BENCH_WORKLOADS, else all). */
  readonly workloads?: ReadonlyArray<WorkloadId>
  /** Progress lines (default: to stderr). */
  readonly log?: (line: string) => void
}

const envList = (name: string): Array<string> | undefined =>
  process.env[name] ? process.env[name].split(",").map((s) => s.trim()).filter(Boolean) : undefined

/**
 * Runs every (workload, implementation) pair `runs` times, interleaving the
 * implementations within each round, and returns one row per metric with the
 * median over successful runs and its ratio to {@link BASELINE}. A pair whose
 * every run failed yields rows with `value: null` and the error; the other
 * pairs still run.
 */
export const run = async (options: RunOptions = {}): Promise<Array<Row>> => {
  installExitHooks()
  const quick = options.quick ?? process.env.BENCH_QUICK === "1"
  const runs = options.runs ?? (process.env.BENCH_RUNS ? Number(process.env.BENCH_RUNS) : quick ? 1 : 5)
  const log = options.log ?? ((line: string) => process.stderr.write(line + "\n"))
  const implNames = options.impls ?? envList("BENCH_IMPLS") ?? Object.keys(implementations)
  const wanted = options.workloads ?? (envList("BENCH_WORKLOADS") as Array<WorkloadId> | undefined)
  for (const name of implNames) if (!(name in implementations)) throw new Error(`unknown implementation ${name}`)

  const rows: Array<Row> = []
  for (const spec of workloadSpecs(quick)) {
    if (wanted && !wanted.includes(spec.id)) continue
    const impls = implNames.filter((n) => implementations[n]!.workloads?.includes(spec.id) ?? true)
    const samples = new Map<string, Map<string, { metric: Metric; values: Array<number> }>>()
    const errors = new Map<string, string>()
    for (let round = 0; round < runs; round++) {
      for (const name of impls) {
        const started = performance.now()
        try {
          const metrics = await runOnce(implementations[name]!, spec)
          const byMetric = samples.get(name) ?? new Map()
          samples.set(name, byMetric)
          for (const m of metrics) {
            const entry = byMetric.get(m.metric) ?? { metric: m, values: [] }
            entry.values.push(m.value)
            byMetric.set(m.metric, entry)
          }
          log(`${spec.id} ${name} run ${round + 1}/${runs}: ` +
            metrics.map((m) => `${m.metric} ${m.value.toFixed(1)} ${m.unit}`).join(", ") +
            ` (${((performance.now() - started) / 1000).toFixed(1)} s)`)
        } catch (err) {
          const message = err instanceof Error ? err.message : String(err)
          errors.set(name, message)
          log(`${spec.id} ${name} run ${round + 1}/${runs} FAILED: ${message}`)
        }
      }
    }
    const baseline = samples.get(BASELINE)
    for (const name of impls) {
      const byMetric = samples.get(name)
      if (!byMetric) {
        rows.push({ workload: spec.title, impl: name, metric: "-", value: null, unit: "", better: "higher", ratio: null, runs: 0, error: errors.get(name) ?? "no result" })
        continue
      }
      for (const [metricName, { metric, values }] of byMetric) {
        const value = median(values)
        const base = baseline?.get(metricName)
        rows.push({
          workload: spec.title,
          impl: name,
          metric: metricName,
          value,
          unit: metric.unit,
          better: metric.better,
          ratio: base ? value / median(base.values) : null,
          runs: values.length,
          ...(errors.has(name) ? { error: errors.get(name)! } : {})
        })
      }
    }
  }
  return rows
}

/** Prints rows as a table with rounded figures (ratio: value ÷ baseline value), then the implementations' notes. */
export const print = (rows: ReadonlyArray<Row>): void => {
  console.table(rows.map((r) => ({
    workload: r.workload,
    impl: r.impl,
    metric: r.metric,
    value: r.value === null ? "FAILED" : Number(r.value.toPrecision(4)),
    unit: r.unit,
    ratio: r.ratio === null ? "" : Number(r.ratio.toFixed(2)),
    better: r.better
  })))
  for (const [name, impl] of Object.entries(implementations)) if (impl.note) console.log(`${name}: ${impl.note}`)
}

if (import.meta.main) {
  const rows = await run()
  print(rows)
  if (rows.some((r) => r.value === null)) process.exitCode = 1
}
