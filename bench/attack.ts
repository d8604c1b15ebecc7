/**
 * The starvation attack at full length: a server with 5 workers, 200
 * connections trickling a request one byte a second, 200 silent and 5
 * that ask for `big` and never read it, all reopened as soon as the
 * server drops them. A legitimate client sends `ping` every 100 ms for 30 s
 * (`ATTACK_SECONDS`), first without the attack, then under it, and the
 * latencies of both runs are printed.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import * as Client from "../src/client/Client.ts"
import { exitOf, waitListening } from "./listening.ts"
import { percentile } from "./stats.ts"

const seconds = Number(process.env.ATTACK_SECONDS ?? 30)
const support = (name: string) => fileURLToPath(new URL(`../test/support/${name}`, import.meta.url))

const untilLine = (child: ChildProcess, prefix: string) =>
  new Promise<void>((resolve) => {
    let seen = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      seen += String(chunk)
      if (seen.split("\n").some((line) => line.startsWith(prefix))) resolve()
    })
  })

const pings = async (path: string) => {
  const latencies: Array<number> = []
  let failed = 0
  const end = Date.now() + seconds * 1000
  while (Date.now() < end) {
    const started = performance.now()
    const exit = await Effect.runPromise(Effect.exit(Client.request(path, "ping", { timeout: "10 seconds" })))
    if (exit._tag === "Success") latencies.push(performance.now() - started)
    else failed++
    await new Promise((r) => setTimeout(r, 100))
  }
  return { answered: latencies.length, failed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: Math.max(...latencies) }
}

const dir = mkdtempSync(join(tmpdir(), "sipc-attack-"))
const path = join(dir, "ipc.sock")
const children: Array<ChildProcess> = []
try {
  const daemon = spawn(process.execPath, [support("daemon.ts"), path, "5"], { stdio: ["ignore", "pipe", "inherit"] })
  children.push(daemon)
  await waitListening(path, { exited: exitOf(daemon) })
  const quiet = await pings(path)
  const attacker = spawn(process.execPath, [support("attacker.ts"), path, "200", "200", "5"], { stdio: ["ignore", "pipe", "inherit"] })
  children.push(attacker)
  await untilLine(attacker, "ready")
  const attacked = await pings(path)
  const row = (name: string, r: typeof quiet) =>
    `${name.padEnd(10)} answered ${r.answered}/${r.answered + r.failed}  p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  max ${r.max.toFixed(1)} ms`
  console.log(`ping every 100 ms for ${seconds} s, server threads 5`)
  console.log(row("quiet", quiet))
  console.log(row("attacked", attacked))
  if (attacked.failed > 0) process.exitCode = 1
} finally {
  for (const child of children) child.kill("SIGKILL")
  rmSync(dir, { recursive: true, force: true })
}
