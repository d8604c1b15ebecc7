/**
 * Peers that send slowly, send nothing or never read cannot starve a
 * server: reading a request holds no worker, and a client that takes none
 * of its response is dropped. (The 30-second version of this attack, with
 * latency percentiles, is `npm run bench:attack`.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Client from "../../src/client/Client.ts"
import { text } from "../support/bytes.ts"
import { spawnScoped, startDaemon, supportFile } from "../support/child.ts"
import { socketPath } from "../support/tempdir.ts"

/** Resolves once the child has printed a line starting with `prefix`. */
const printed = (child: { stdout: NodeJS.ReadableStream | null }, prefix: string) =>
  Effect.callback<void>((resume) => {
    let seen = ""
    const onData = (chunk: Buffer) => {
      seen += String(chunk)
      if (seen.split("\n").some((line) => line.startsWith(prefix))) {
        child.stdout!.off("data", onData)
        resume(Effect.void)
      }
    }
    child.stdout!.on("data", onData)
  })

describe("starvation", () => {
  it.live("with 5 workers, 60 trickling, 60 silent and 5 non-reading connections, every ping is answered", () =>
    Effect.gen(function*() {
      const path = yield* socketPath()
      yield* startDaemon(path, 5)
      const attacker = yield* spawnScoped([supportFile("attacker.ts"), path, "60", "60", "5"], { stdio: "pipe" })
      yield* printed(attacker, "ready")
      // A server that gave a worker to every connection it reads would have
      // all five held by now, and the pings below would wait behind them.
      const latencies: Array<number> = []
      for (let i = 0; i < 30; i++) {
        const started = performance.now()
        assert.strictEqual(text(yield* Client.request(path, "ping")), "pong")
        latencies.push(performance.now() - started)
        yield* Effect.sleep("100 millis")
      }
      // Not a speed test (that is the benchmark's job): a starved server
      // answers after seconds, if at all; a loaded test machine well under one.
      assert.isBelow(Math.max(...latencies), 1000, `latencies: ${latencies.map(Math.round).join(", ")}`)
    }), { timeout: 60_000 })
})
