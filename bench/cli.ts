/**
 * The command line's own costs, whole processes timed from outside:
 *
 * - start-up: `simple-ipc send --token=ping` against `node -e 0` (bare
 *   Node, the floor) and against a minimal `node:net` script doing the
 *   same round trip; `simple-ipc --help` against `node -e 0`;
 * - `simple-ipc multiple --threads=8 --batchsize=1000 --bytecount=100`
 *   against the library's client doing the same 8000 requests in a script.
 *
 * Each pair of commands runs in turn (A B A B ...), so that drift on a
 * noisy machine affects both alike; the ratio is the median of the pairs'
 * ratios. The server is the command line's own `run-daemon` (8 threads).
 */
import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import type { Row } from "./ipc.ts"
import { exitOf, waitListening } from "./listening.ts"
import { median } from "./stats.ts"

const here = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url))
const bin = here("../dist/cli/bin.js")
const node = process.execPath

/** Runs a command to its exit; answers its wall time in milliseconds. */
const timed = (args: ReadonlyArray<string>): Promise<number> =>
  new Promise((resolve, reject) => {
    const start = performance.now()
    const child = spawn(node, args, { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk))
    child.on("error", reject)
    child.on("exit", (code) =>
      code === 0 ? resolve(performance.now() - start) : reject(new Error(`node ${args.join(" ")} exited ${code}: ${stderr}`)))
  })

/** Times `a` and `b` in turn, after one warm-up each; medians of each and of the pairs' ratios. */
const paired = async (runs: number, a: ReadonlyArray<string>, b: ReadonlyArray<string>) => {
  await timed(a)
  await timed(b)
  const as: Array<number> = []
  const bs: Array<number> = []
  for (let i = 0; i < runs; i++) {
    as.push(await timed(a))
    bs.push(await timed(b))
  }
  return { a: median(as), b: median(bs), ratio: median(as.map((t, i) => t / bs[i]!)) }
}

export const run = async (options: { readonly quick?: boolean } = {}): Promise<Array<Row>> => {
  const startupRuns = options.quick ? 3 : 20
  const multipleRuns = options.quick ? 1 : 5
  const batchsize = options.quick ? 100 : 1000
  const dir = mkdtempSync(join(tmpdir(), "simple-ipc-bench-cli-"))
  const path = join(dir, "ipc")
  const daemon = spawn(node, [bin, "run-daemon", `--name=${path}`, "--threads=8"], { stdio: "ignore" })
  const exited = exitOf(daemon)
  try {
    await waitListening(path, { exited })
    const bare = ["-e", "0"]
    const send = [bin, "send", `--name=${path}`, "--token=ping"]
    const sendVsNode = await paired(startupRuns, send, bare)
    const sendVsRaw = await paired(startupRuns, send, [here("./cli/raw-send.cjs"), path])
    const help = await paired(startupRuns, [bin, "--help"], bare)
    const multiple = await paired(
      multipleRuns,
      [bin, "multiple", `--name=${path}`, "--threads=8", `--batchsize=${batchsize}`, "--bytecount=100"],
      [here("./cli/library-multiple.ts"), path, "8", String(batchsize), "100"]
    )
    const row = (workload: string, impl: string, value: number, ratio: number | null, runs: number): Row => ({
      workload,
      impl,
      metric: "wall time",
      value,
      unit: "ms",
      better: "lower",
      ratio,
      runs
    })
    return [
      row("S1: start-up, send --token=ping", "node -e 0", sendVsNode.b, null, startupRuns),
      row("S1: start-up, send --token=ping", "simple-ipc (vs node -e 0)", sendVsNode.a, sendVsNode.ratio, startupRuns),
      row("S1: start-up, send --token=ping", "raw node:net script", sendVsRaw.b, null, startupRuns),
      row("S1: start-up, send --token=ping", "simple-ipc (vs raw script)", sendVsRaw.a, sendVsRaw.ratio, startupRuns),
      row("S2: start-up, --help", "node -e 0", help.b, null, startupRuns),
      row("S2: start-up, --help", "simple-ipc (vs node -e 0)", help.a, help.ratio, startupRuns),
      row(`S3: multiple, 8 clients x ${batchsize}`, "library client script", multiple.b, null, multipleRuns),
      row(`S3: multiple, 8 clients x ${batchsize}`, "simple-ipc (vs library)", multiple.a, multiple.ratio, multipleRuns)
    ]
  } finally {
    daemon.kill("SIGTERM")
    await exited
    rmSync(dir, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  const rows = await run({ quick: process.env.BENCH_QUICK === "1" })
  console.table(rows.map((r) => ({ workload: r.workload, impl: r.impl, ms: Number(r.value!.toPrecision(4)), ratio: r.ratio === null ? "" : Number(r.ratio.toFixed(2)) })))
}
