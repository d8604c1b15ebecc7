/**
 * Help, version, and invocations the command line does not accept.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { tempDir } from "../support/tempdir.ts"
import { cli } from "./harness.ts"

const version: string = JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version

/** Each subcommand, with the options its help lists (as Git's usage lines do). */
const subcommands = {
  "SUPPORTS_SIMPLE_IPC": [],
  "is-active": ["--name"],
  "run-daemon": ["--name", "--threads", "--idle-shutdown"],
  "start-daemon": ["--name", "--threads", "--max-wait", "--idle-shutdown"],
  "stop-daemon": ["--name", "--max-wait"],
  "send": ["--name", "--token"],
  "sendbytes": ["--name", "--bytecount", "--byte"],
  "multiple": ["--name", "--threads", "--bytecount", "--batchsize"]
} as const

const allOptions = ["--name", "--threads", "--max-wait", "--idle-shutdown", "--bytecount", "--batchsize", "--byte", "--token"]

describe("help", () => {
  for (const flag of ["--help", "-h"]) {
    it.live(`simple-ipc ${flag} lists every subcommand on standard output`, () =>
      Effect.gen(function*() {
        const run = yield* cli([flag])
        assert.strictEqual(run.code, 0)
        assert.strictEqual(run.stderr, "")
        const help = run.stdout.toString()
        assert.include(help, "simple-ipc <subcommand>")
        for (const name of Object.keys(subcommands)) assert.include(help, name)
      }))
  }

  for (const [name, shown] of Object.entries(subcommands)) {
    it.live(`simple-ipc ${name} --help describes it and lists the options it uses`, () =>
      Effect.gen(function*() {
        const run = yield* cli([name, "--help"])
        assert.strictEqual(run.code, 0)
        assert.strictEqual(run.stderr, "")
        const help = run.stdout.toString()
        assert.include(help, `simple-ipc ${name}`)
        for (const option of allOptions) {
          const listed = new RegExp(`^\\s+${option} `, "m").test(help)
          assert.strictEqual(listed, (shown as ReadonlyArray<string>).includes(option), option)
        }
      }))
  }

  it.live("--version prints the package's version", () =>
    Effect.gen(function*() {
      const run = yield* cli(["--version"])
      assert.strictEqual(run.code, 0)
      assert.include(run.stdout.toString(), version)
    }))
})

describe("invocations that are not accepted", () => {
  for (
    const [args, message] of [
      [["no-such-subcommand"], "error: Unknown subcommand"],
      [["send", "--bogus=1"], "error: Unrecognized flag: --bogus"],
      [["multiple", "--threads=many"], "error: Invalid value for flag --threads"],
      [["SUPPORTS_SIMPLE_IPC", "--threads=2"], "error: Unrecognized flag: --threads"]
    ] as const
  ) {
    it.live(`simple-ipc ${args.join(" ")}: exit 1, the error then the help on standard error`, () =>
      Effect.gen(function*() {
        const run = yield* cli(args)
        assert.strictEqual(run.code, 1)
        assert.strictEqual(run.stdout.length, 0)
        assert.isTrue(run.stderr.startsWith(message), run.stderr)
        assert.include(run.stderr, "USAGE")
      }))
  }

  it.live("every option is accepted by every subcommand, as Git's tool parses them all", () =>
    Effect.gen(function*() {
      const path = nodePath.join(yield* tempDir, "ipc")
      const run = yield* cli([
        "is-active",
        `--name=${path}`,
        "--threads=3",
        "--max-wait=1",
        "--idle-shutdown=1",
        "--bytecount=9",
        "--batchsize=2",
        "--byte=z",
        "--token=ping"
      ])
      assert.strictEqual(run.code, 1)
      assert.strictEqual(run.stderr, `error: no server listening at '${path}'\n`)
    }))

  it.live("options may also be given as --name value", () =>
    Effect.gen(function*() {
      const path = nodePath.join(yield* tempDir, "ipc")
      const run = yield* cli(["is-active", "--name", path])
      assert.strictEqual(run.stderr, `error: no server listening at '${path}'\n`)
    }))
})
