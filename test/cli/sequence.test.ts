/**
 * Git's own test of Simple IPC (t0052), step by step, against the command
 * line: the same invocations in a fresh directory, with the default socket
 * name `ipc-test` relative to it, and the same checks on the output.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { tempDir } from "../support/tempdir.ts"
import { cli, lines, listening, reapDaemons } from "./harness.ts"

const lastRow = (n: number) => new RegExp(`^big: 0*${n}$`)

describe("Git's simple-ipc test sequence over the command line", () => {
  it.live("start, ping, shared path, big, chunk, slow, sendbytes, multiple, stop", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* reapDaemons(dir)
      const path = nodePath.join(dir, "ipc-test")
      const tool = (...args: Array<string>) => cli(args, { cwd: dir })

      // start simple command server
      const started = yield* tool("start-daemon", "--threads=8")
      assert.strictEqual(started.code, 0, started.stderr)
      assert.strictEqual(started.stdout.length, 0)
      assert.isTrue(fs.lstatSync(path).isSocket())
      assert.strictEqual((yield* tool("is-active")).code, 0)

      // simple command server
      const ping = yield* tool("send", "--token=ping")
      assert.strictEqual(ping.code, 0)
      assert.strictEqual(ping.stdout.toString("latin1"), "pong\n")

      // servers cannot share the same path
      const second = yield* tool("run-daemon")
      assert.strictEqual(second.code, 1)
      assert.strictEqual(second.stderr, "error: socket/pipe already in use: 'ipc-test'\n")
      assert.strictEqual((yield* tool("is-active")).code, 0)

      // big response, chunk response
      for (const token of ["big", "chunk"]) {
        const run = yield* tool("send", `--token=${token}`)
        assert.strictEqual(run.code, 0)
        const out = lines(run)
        assert.isAtLeast(out.length, 10000)
        assert.isTrue(out.some((line) => lastRow(9999).test(line)))
      }

      // slow response
      const slow = yield* tool("send", "--token=slow")
      assert.strictEqual(slow.code, 0)
      assert.isAtLeast(lines(slow).length, 100)
      assert.isTrue(lines(slow).some((line) => lastRow(99).test(line)))

      // sendbytes
      const sendbytes = yield* tool("sendbytes", "--bytecount=100000", "--byte=A")
      assert.strictEqual(sendbytes.code, 0)
      assert.include(lines(sendbytes), "sent:A00100000 rcvd:A00100000")

      // stress test threads
      const stress = yield* tool("multiple", "--threads=7", "--bytecount=19", "--batchsize=13")
      assert.strictEqual(stress.code, 0, stress.stderr)
      const out = lines(stress)
      assert.strictEqual(out.length, 92)
      assert.isTrue(out.some((line) => line.includes("good 91")))
      assert.strictEqual(out.at(-1), "client (good 91) (join 0), (errors 0)")
      assert.deepStrictEqual(
        out.filter((line) => line.startsWith("sent:A")),
        Array.from({ length: 13 }, (_, j) => {
          const n = String(19 + j).padStart(8, "0")
          return `sent:A${n} rcvd:A${n}`
        })
      )
      assert.strictEqual(stress.stderr, "")

      // stop-daemon works
      const stopped = yield* tool("stop-daemon")
      assert.strictEqual(stopped.code, 0, stopped.stderr)
      assert.isFalse(yield* listening(path))
      assert.isFalse(fs.existsSync(path))
      const inactive = yield* tool("is-active")
      assert.strictEqual(inactive.code, 1)
      assert.strictEqual(inactive.stderr, "error: no server listening at 'ipc-test'\n")
      const refused = yield* tool("send", "--token=ping")
      assert.strictEqual(refused.code, 1)
      assert.strictEqual(refused.stdout.length, 0)
      assert.strictEqual(refused.stderr, "error: no server listening at 'ipc-test'\n")
    }), 60_000)
})
