/**
 * The monitor's change log: tokens, and what changed since one.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ChangeLog from "../../examples/monitor/ChangeLog.ts"

const first = (log: ChangeLog.ChangeLog) => log.since("0").token

describe("ChangeLog", () => {
  it("a new log answers an unknown token with a full rescan and a token that has seen nothing", () => {
    const log = ChangeLog.make()
    const answer = log.since("0")
    assert.isTrue(answer.fullRescan)
    assert.deepStrictEqual(answer.paths, [])
    assert.deepStrictEqual(log.since(answer.token), { token: answer.token, fullRescan: false, paths: [] })
  })

  it("reports the paths recorded after a token, sorted and without duplicates, and a newer token", () => {
    const log = ChangeLog.make()
    const t0 = first(log)
    log.record("b.txt")
    log.record("a.txt")
    log.record("b.txt")
    const answer = log.since(t0)
    assert.deepStrictEqual(answer.paths, ["a.txt", "b.txt"])
    assert.isFalse(answer.fullRescan)
    assert.notStrictEqual(answer.token, t0)
    log.record("c.txt")
    assert.deepStrictEqual(log.since(answer.token).paths, ["c.txt"])
    assert.deepStrictEqual(log.since(t0).paths, ["a.txt", "b.txt", "c.txt"])
  })

  it("tokens that are malformed, from another log, or from the future need a full rescan", () => {
    const log = ChangeLog.make()
    const other = ChangeLog.make()
    log.record("a")
    const [instance] = first(log).split(":")
    for (const token of ["", "garbage", "1", first(other), `${instance}:99`, `${instance}:-1`, `${instance}:1:2`]) {
      assert.isTrue(log.since(token).fullRescan, token)
    }
  })

  it("a token older than the events kept needs a full rescan; a recent one does not", () => {
    const log = ChangeLog.make({ maxEvents: 4 })
    const old = first(log)
    for (const path of ["a", "b", "c"]) log.record(path)
    const recent = log.since(old).token
    log.record("d")
    // Four events: all kept.
    assert.deepStrictEqual(log.since(old).paths, ["a", "b", "c", "d"])
    // A fifth: the oldest are dropped, down to half the limit (d and e).
    log.record("e")
    assert.isTrue(log.since(old).fullRescan)
    const answer = log.since(recent)
    assert.isFalse(answer.fullRescan)
    assert.deepStrictEqual(answer.paths, ["d", "e"])
  })

  it("after lost events, every earlier token needs a full rescan; later ones do not", () => {
    const log = ChangeLog.make()
    log.record("a")
    const before = first(log)
    log.forget()
    const answer = log.since(before)
    assert.isTrue(answer.fullRescan)
    log.record("b")
    assert.deepStrictEqual(log.since(answer.token).paths, ["b"])
  })
})
