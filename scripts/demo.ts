#!/usr/bin/env node
/**
 * `npm run demo`: the whole mechanism in one command. Starts a daemon in
 * the background on a socket in a fresh temporary directory, talks to it
 * with the `simple-ipc` command line (is-active, ping, a large response, a
 * large request, many concurrent clients), stops it, and shows every
 * command with its output. The directory is removed at the end, and no
 * daemon is left running, whatever happens (Ctrl-C included).
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"

// The command line as a user's install runs it: the built one.
const bin = fileURLToPath(new URL("../dist/cli/bin.js", import.meta.url))

/** A step of the demo did not end as it should have. */
class DemoError extends Data.TaggedError("DemoError")<{
  readonly command: string
  readonly code: number | null
  readonly stderr: string
}> {
  override get message(): string {
    return `'${this.command}' exited with ${this.code}${this.stderr ? `:\n${this.stderr}` : ""}`
  }
}

interface Ran {
  readonly code: number | null
  readonly stdout: Buffer
  readonly stderr: string
}

/** Runs `simple-ipc <args>` to completion, collecting its output. */
const simpleIpc = (args: ReadonlyArray<string>) =>
  Effect.callback<Ran>((resume) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    const stdout: Array<Buffer> = []
    const stderr: Array<Buffer> = []
    child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk))
    child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk))
    child.on("close", (code) =>
      resume(Effect.succeed({ code, stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr).toString() })))
    // A failed spawn is an error event, which would otherwise crash the demo.
    child.on("error", (error) => resume(Effect.succeed({ code: null, stdout: Buffer.alloc(0), stderr: error.message })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const indent = (text: string) => text.split("\n").filter(Boolean).map((line) => `  ${line}`).join("\n")

/**
 * Shows `$ simple-ipc <args>` as typed (with `$DIR` for the directory),
 * runs it, and shows its output: as printed, or as `summarize` puts it.
 * Fails unless it exits with `expected`.
 */
const step = (
  dir: string,
  args: ReadonlyArray<string>,
  options?: { readonly expected?: number; readonly summarize?: (stdout: string) => string }
) =>
  Effect.gen(function*() {
    const shown = `simple-ipc ${args.join(" ")}`.replaceAll(dir, "$DIR")
    yield* Console.log(`\n$ ${shown}`)
    const ran = yield* simpleIpc(args)
    const stdout = ran.stdout.toString("latin1")
    if (stdout.length > 0) yield* Console.log(options?.summarize ? options.summarize(stdout) : stdout.trimEnd())
    if (ran.stderr.length > 0) yield* Console.log(ran.stderr.trimEnd().replaceAll(dir, "$DIR"))
    yield* Console.log(`  [exit ${ran.code}]`)
    if (ran.code !== (options?.expected ?? 0)) {
      return yield* new DemoError({ command: shown, code: ran.code, stderr: ran.stderr })
    }
  })

/** A response too long to show: its size, first and last line. */
const summarizeBig = (stdout: string) => {
  const lines = stdout.split("\n").filter(Boolean)
  return indent(
    `${lines.length} lines, ${Buffer.byteLength(stdout, "latin1") - 1} bytes (and a newline)\n` +
      `first: ${lines[0]}\nlast:  ${lines.at(-1)}`
  )
}

/** The `sent:` lines of `multiple`: how many, a few of them, and the totals. */
const summarizeMultiple = (stdout: string) => {
  const lines = stdout.split("\n").filter(Boolean)
  const sent = lines.filter((line) => line.startsWith("sent:"))
  return `${indent(`${sent.length} sent: lines as responses came in, e.g.\n${sent.slice(0, 3).join("\n")}\n...`)}\n${
    lines.at(-1)
  }`
}

/**
 * The daemons serving `path` (their command line names it), found with
 * `ps`, which every Unix has: the last resort when one did not quit.
 */
const daemonsServing = (path: string): Array<number> => {
  try {
    return execFileSync("ps", ["-A", "-o", "pid=", "-o", "args="], { encoding: "utf8" })
      .split("\n")
      .filter((line) => line.includes(bin) && line.includes("run-daemon") && line.includes(`--name=${path}`))
      .map((line) => Number.parseInt(line.trim(), 10))
  } catch {
    return []
  }
}

/** Stops the daemon if it still runs, kills it if it will not stop, and removes the directory. */
const cleanUp = (dir: string, path: string) =>
  Effect.gen(function*() {
    if (daemonsServing(path).length > 0) yield* Effect.ignore(simpleIpc(["stop-daemon", `--name=${path}`, "--max-wait=5"]))
    for (const pid of daemonsServing(path)) {
      yield* Console.error(`killing daemon ${pid}, which did not stop`)
      yield* Effect.sync(() => {
        try {
          process.kill(pid, "SIGKILL")
        } catch {
          // It has exited after all.
        }
      })
    }
    yield* Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  })

const demo = Effect.gen(function*() {
  const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "simple-ipc-demo-"))
  const path = nodePath.join(dir, "ipc")
  const name = `--name=${path}`
  yield* Console.log("Git's Simple IPC: one request per connection, pkt-line framed, over a Unix domain socket.")
  yield* Console.log(`DIR=${dir}`)
  yield* Effect.ensuring(
    Effect.gen(function*() {
      yield* step(dir, ["start-daemon", name, "--threads=8"])
      yield* step(dir, ["is-active", name])
      yield* step(dir, ["send", name, "--token=ping"])
      yield* step(dir, ["send", name, "--token=big"], { summarize: summarizeBig })
      yield* step(dir, ["sendbytes", name, "--bytecount=100000", "--byte=A"])
      yield* step(dir, ["multiple", name, "--threads=8", "--bytecount=100", "--batchsize=250"], {
        summarize: summarizeMultiple
      })
      yield* step(dir, ["stop-daemon", name])
      yield* step(dir, ["is-active", name], { expected: 1 })
      yield* Console.log("\nDone: the daemon has stopped and its socket is gone.")
    }),
    cleanUp(dir, path)
  )
})

NodeRuntime.runMain(
  demo.pipe(
    Effect.catchTag("DemoError", (error) =>
      Effect.andThen(
        Console.error(`\ndemo failed: ${error.message}`),
        Effect.sync(() => {
          process.exitCode = 1
        })
      ))
  )
)
