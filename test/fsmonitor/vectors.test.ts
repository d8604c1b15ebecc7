/**
 * The exchanges recorded between Git 2.55's clients and Git's own
 * fsmonitor daemon: our client sends the same bytes and decodes every
 * recorded answer to the right typed answer; our server side, replaying
 * the recorded session, answers every recorded request with the same
 * layout (and, given the recorded token ids, the very same bytes).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as nodePath from "node:path"
import * as Fsmonitor from "../../src/fsmonitor/Fsmonitor.ts"
import * as PktLine from "../../src/framing/PktLine.ts"
import * as Server from "../../src/server/Server.ts"
import { exchange } from "../support/raw.ts"
import { tempDir } from "../support/tempdir.ts"
import { caseNamed, cases, packetsOf, payloadText, recordedIds, recordingServer } from "./support.ts"

const first = `builtin:${recordedIds[0]}`
const second = `builtin:${recordedIds[1]}`

/** What each recorded answer means. */
const expected: Record<Exclude<typeof cases[number]["name"], "6-quit">, Fsmonitor.Answer> = {
  "1-first-query-v1-timestamp": Fsmonitor.trivial(`${first}:0`),
  "2-no-changes": Fsmonitor.changed(`${first}:0`, []),
  "3-three-changes": Fsmonitor.changed(`${first}:1`, ["f1.txt", "dir/a.txt", "untracked.txt"]),
  "4-builtin-fake": Fsmonitor.trivial(`${first}:1`),
  "5-flush": Fsmonitor.trivial(`${second}:0`)
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex")

describe("the client, against Git's recorded answers", () => {
  for (const [name, answer] of Object.entries(expected)) {
    it.live(`${name}: sends Git's request bytes and decodes the answer`, () =>
      Effect.gen(function*() {
        const vector = caseNamed(name as keyof typeof expected)
        const path = nodePath.join(yield* tempDir, "fsmonitor--daemon.ipc")
        const requests = yield* recordingServer(path, vector.response)
        const token = yield* payloadText(vector.request)
        const got = name === "5-flush" ? yield* Fsmonitor.flush(path) : yield* Fsmonitor.query(path, token)
        assert.deepStrictEqual(got, answer)
        assert.strictEqual(requests.length, 1)
        assert.strictEqual(hex(requests[0]!), hex(vector.request))
      }))
  }

  it.live("6-quit: stop sends Git's quit bytes and waits until the daemon no longer listens", () =>
    Effect.gen(function*() {
      const vector = caseNamed("6-quit")
      const path = nodePath.join(yield* tempDir, "fsmonitor--daemon.ipc")
      const requests = yield* recordingServer(path, vector.response, { closeAfterFirst: true })
      yield* Fsmonitor.stop(path)
      assert.isFalse(yield* Fsmonitor.isRunning(path))
      assert.strictEqual(hex(requests[0]!), hex(vector.request))
    }))
})

/**
 * Replays the recorded session against our server side. Cases 2 and 3 ask
 * with the token case 1 was answered with, as Git's client did: with the
 * recorded ids that is the recorded request; with our own ids, our token.
 */
const replay = (makeId: ((counter: number) => string) | undefined) =>
  Effect.gen(function*() {
    const path = nodePath.join(yield* tempDir, "fsmonitor--daemon.ipc")
    const journal = Fsmonitor.makeJournal(makeId === undefined ? undefined : { makeId })
    const server = yield* Server.make(path, Fsmonitor.handler(journal))
    const responses = new Map<string, Uint8Array>()
    let stored = ""
    for (const vector of cases) {
      // Between cases 2 and 3 the recording appended to f1.txt, rewrote
      // dir/a.txt and created untracked.txt.
      if (vector.name === "3-three-changes") yield* journal.record(["f1.txt", "dir/a.txt", "untracked.txt"])
      const asksWithStoredToken = vector.name === "2-no-changes" || vector.name === "3-three-changes"
      const request = asksWithStoredToken ? PktLine.encodeMessageBytes(Buffer.from(stored)) : vector.request
      const { response } = yield* exchange(path, request)
      if (vector.name === "1-first-query-v1-timestamp") stored = (yield* payloadText(response)).split("\0")[0]!
      responses.set(vector.name, response)
    }
    yield* server.join
    return responses
  })

describe("our server side, answering Git's recorded requests", () => {
  it.live("with the recorded token ids, every answer is byte for byte Git's, and quit stops the server", () =>
    Effect.gen(function*() {
      const responses = yield* replay((counter) => recordedIds[counter]!)
      for (const vector of cases) assert.strictEqual(hex(responses.get(vector.name)!), hex(vector.response), vector.name)
    }))

  it.live("with its own token ids, every answer has the recorded layout: the same packets, tokens aside", () =>
    Effect.gen(function*() {
      const responses = yield* replay(undefined)
      for (const vector of cases) {
        const ours = yield* packetsOf(responses.get(vector.name)!)
        const git = yield* packetsOf(vector.response)
        assert.strictEqual(ours.length, git.length, vector.name)
        for (let i = 0; i < git.length; i++) {
          const [o, g] = [ours[i]!, git[i]!]
          assert.strictEqual(o._tag, g._tag, `${vector.name} packet ${i}`)
          if (o._tag !== "Data" || g._tag !== "Data") continue
          const [ot, gt] = [Buffer.from(o.payload).toString("utf8"), Buffer.from(g.payload).toString("utf8")]
          if (i === 0) {
            // The token: ours has Git's form and the recorded sequence number.
            assert.match(ot, /^builtin:\d+\.\d+\.\d{8}T\d{6}\.\d{6}Z:\d+\0$/, vector.name)
            assert.strictEqual(ot.replace(/^.*:/, ""), gt.replace(/^.*:/, ""), vector.name)
            assert.strictEqual(ot.split(".")[0], gt.split(".")[0], `${vector.name}: the id's counter`)
          } else {
            assert.strictEqual(ot, gt, `${vector.name} packet ${i}`)
          }
        }
      }
    }))
})
