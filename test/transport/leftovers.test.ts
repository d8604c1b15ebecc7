/**
 * The process record that lock files and the temporaries of a start-up
 * are named after: its text in both, fixed strings of the current format
 * and the earlier one read back, and names that only look like ours left
 * alone by the sweep.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Leftovers from "../../src/transport/internal/leftovers.ts"
import { NO_SUCH_PID, startTimeOf } from "../support/processes.ts"
import { tempDir } from "../support/tempdir.ts"

describe("a process record", () => {
  it("is this process's pid and its start time as the kernel reports it", () => {
    assert.deepStrictEqual(Leftovers.self, { pid: process.pid, start: startTimeOf(process.pid) })
    assert.deepStrictEqual(Leftovers.encodeProcess(Leftovers.self), [String(process.pid), startTimeOf(process.pid)])
  })

  it("reads back what it writes, and a start time the system did not tell", () => {
    assert.deepStrictEqual(Leftovers.encodeProcess({ pid: 4242, start: "987654" }), ["4242", "987654"])
    assert.deepStrictEqual(Leftovers.decodeProcess("4242", "987654"), { pid: 4242, start: "987654" })
    assert.deepStrictEqual(Leftovers.decodeProcess("4242", ""), { pid: 4242, start: "" })
  })

  for (
    const [pid, start] of [
      [undefined, ""],
      ["4242", undefined],
      ["", ""],
      ["0", "1"],
      ["-5", "1"],
      ["1e3", "1"],
      [" 42", "1"],
      ["0x2a", "1"],
      ["99999999999999999999", "1"],
      ["42", "98a"],
      ["42", "9-8"]
    ] as const
  ) {
    it(`fields ${JSON.stringify([pid, start])} name no process`, () => {
      assert.isUndefined(Leftovers.decodeProcess(pid, start))
    })
  }
})

describe("temporaries' names", () => {
  it("begin with their kind and the process record of the process that made them", () => {
    assert.strictEqual(Leftovers.prefix("lock"), `.sipc-lock-${process.pid}-${startTimeOf(process.pid)}-`)
    assert.match(
      nodePath.basename(Leftovers.temporaryPath("/unused", "aside")),
      new RegExp(`^\\.sipc-aside-${process.pid}-${startTimeOf(process.pid)}-[0-9a-f]{12}$`)
    )
  })

  it.live("those of the current and the earlier format whose process is gone are swept; the rest stay", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const gone = [
        `.sipc-lock-${NO_SUCH_PID}-8765432-0123456789ab`,
        `.sipc-aside-${NO_SUCH_PID}--0123456789ab`,
        `.sipc-${NO_SUCH_PID}-0123456789ab`
      ]
      const kept = [
        `${Leftovers.prefix("lock")}0123456789ab`,
        `.sipc-lock-${NO_SUCH_PID}-87a-0123456789ab`,
        `.sipc-lock-0-8765432-0123456789ab`,
        `.sipc-lock-${NO_SUCH_PID}-8765432-`,
        "ipc.sock.lock"
      ]
      for (const name of [...gone, ...kept]) fs.writeFileSync(nodePath.join(dir, name), "")
      // A socket's private directory, with its socket file in it.
      const privateDirectory = `.sipc-sock-${NO_SUCH_PID}-8765432-AbCdEf`
      fs.mkdirSync(nodePath.join(dir, privateDirectory))
      fs.writeFileSync(nodePath.join(dir, privateDirectory, "ipc.sock"), "")

      const removed = yield* Leftovers.sweep(dir)
      assert.deepStrictEqual([...removed].sort(), [...gone, privateDirectory].sort())
      assert.deepStrictEqual(fs.readdirSync(dir).sort(), [...kept].sort())
    }))
})
