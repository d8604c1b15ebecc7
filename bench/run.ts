/**
 * Runs every benchmark (codec, then IPC), prints one table and writes
 * bench/results/latest.json. `BENCH_QUICK=1` for a fast smoke test; see
 * ./ipc.ts for the other environment switches.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import * as cli from "./cli.ts"
import * as codec from "./codec.ts"
import * as ipc from "./ipc.ts"

const quick = process.env.BENCH_QUICK === "1"

// Codec rows in the IPC rows' shape: their baseline is Buffer.concat, and
// vsBaseline is already throughput ÷ baseline throughput.
const codecRows: Array<ipc.Row> = (await codec.run(quick ? 1 : 7)).map((r) => ({
  workload: r.workload,
  impl: r.name,
  metric: "decode throughput",
  value: r.mbPerSec,
  unit: "MB/s",
  better: "higher",
  ratio: r.vsBaseline,
  runs: quick ? 1 : 7
}))
const ipcRows = await ipc.run({ quick })
const cliRows = await cli.run({ quick })
const rows = [...codecRows, ...ipcRows, ...cliRows]

ipc.print(rows)
console.log("ratio = value ÷ baseline value (codec: Buffer.concat; IPC: raw-node); `better` says which direction wins.")
console.log("S1–S3: whole processes of the command line (see ./cli.ts); ratio = the median of paired runs' ratios.")
console.log("W3: `first … throughput` is the first full-size message of a fresh client process; the other W3 figure is the median of 5 after about 1 GB more (the steady state).")

mkdirSync(new URL("./results/", import.meta.url), { recursive: true })
writeFileSync(
  new URL("./results/latest.json", import.meta.url),
  JSON.stringify(
    { date: new Date().toISOString(), node: process.version, quick, rows },
    null,
    2
  ) + "\n"
)
if (rows.some((r) => r.value === null)) process.exitCode = 1
