/**
 * The demo (`npm run demo`) runs to completion on its own and leaves
 * nothing behind.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { killAndWait } from "../support/child.ts"
import { bin } from "./harness.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))

describe("npm run demo", () => {
  it.live("shows every step with its output, exits 0, and leaves no daemon and no directory behind", () =>
    Effect.gen(function*() {
      const child = yield* Effect.acquireRelease(
        Effect.sync(() => spawn("npm", ["run", "--silent", "demo"], { cwd: root, stdio: ["ignore", "pipe", "pipe"] })),
        (child) => killAndWait(child, "SIGKILL")
      )
      const { code, stdout, stderr } = yield* Effect.callback<{ code: number | null; stdout: string; stderr: string }>(
        (resume) => {
          let stdout = ""
          let stderr = ""
          child.stdout.on("data", (chunk: Buffer) => stdout += chunk.toString())
          child.stderr.on("data", (chunk: Buffer) => stderr += chunk.toString())
          child.on("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
        }
      )
      assert.strictEqual(code, 0, stderr)
      for (
        const expected of [
          "$ simple-ipc start-daemon --name=$DIR/ipc --threads=8",
          "$ simple-ipc is-active --name=$DIR/ipc",
          "$ simple-ipc send --name=$DIR/ipc --token=ping\npong",
          "10000 lines, 810000 bytes",
          `last:  big: ${"0".repeat(71)}9999`,
          "sent:A00100000 rcvd:A00100000",
          "client (good 2000) (join 0), (errors 0)",
          "$ simple-ipc stop-daemon --name=$DIR/ipc\n  [exit 0]",
          "error: no server listening at '$DIR/ipc'\n  [exit 1]"
        ]
      ) assert.include(stdout, expected)
      const dir = /^DIR=(.*)$/m.exec(stdout)?.[1]
      assert.isDefined(dir)
      assert.isFalse(fs.existsSync(dir!))
      const running = execFileSync("ps", ["-A", "-o", "args="], { encoding: "utf8" })
      assert.notInclude(running, `${bin} run-daemon --name=${dir}`)
    }), 60_000)
})
