/**
 * A single winner under crashes: a hundred cold clients start daemons on
 * demand (`AutoStart`) while daemons are killed (SIGKILL) at random
 * moments of their start-up: booting, holding the lock, binding, renaming
 * their socket into place, or listening. Never two servers listen at once;
 * every request is answered or fails with a typed error; and whatever the
 * killed ones left behind does not stop the next start.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as AutoStart from "../../src/client/AutoStart.ts"
import { fileURLToPath } from "node:url"
import { options as daemonOptions, recorded } from "../support/autoStart.ts"
import { killAndWait, spawnScoped } from "../support/child.ts"
import { daemonMarker, killAll, processesWith } from "../support/processes.ts"

const killerScript = fileURLToPath(new URL("./killer.ts", import.meta.url))

const CLIENTS = 100
/**
 * At most this many daemons are killed, each at a random moment of its
 * first KILL_WINDOW_MS (long enough to reach past the first daemons'
 * start-up, on a loaded machine, into their serving), while the killer
 * watches for new daemons for KILL_PHASE_MS.
 */
const MAX_KILLS = 40
const KILL_WINDOW_MS = 8_000
const KILL_PHASE_MS = 20_000

/** The failures a client may meet: typed, expected errors, never a defect. */
const TYPED = new Set(["AutoStartError", "ConnectError", "TransportError", "PktLineError", "RequestTimeoutError"])

/** How a failed request failed, for the figures: its tag and reason. */
const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const failure = cause.reasons.find(Cause.isFailReason)
  if (failure === undefined) return "defect"
  const error = failure.error as { _tag?: string; reason?: string }
  return `${error._tag}${error.reason === undefined ? "" : `:${error.reason}`}`
}

describe("a single winner under crashes", () => {
  it.live(`${CLIENTS} cold clients while starting daemons are killed at random`, () =>
    Effect.gen(function*() {
      const marker = yield* daemonMarker
      const runDir = nodePath.join(marker, "run")
      fs.mkdirSync(runDir)
      const path = nodePath.join(runDir, "daemon.sock")
      const options: AutoStart.Options = {
        ...daemonOptions(path, marker),
        startTimeout: Duration.seconds(60),
        logFile: nodePath.join(marker, "daemons.log")
      }

      // The watch: how many daemons that have listened are alive at once.
      let mostListening = 0
      const sample = () => {
        const alive = new Set(processesWith(marker))
        const listeningNow = recorded(marker, "listening").filter((pid) => alive.has(pid)).length
        mostListening = Math.max(mostListening, listeningNow)
      }
      const watch = yield* Effect.forkChild(
        Effect.forever(Effect.andThen(Effect.sync(sample), Effect.sleep(Duration.millis(5))))
      )

      // The killer, in a process of its own (see killer.ts).
      const killer = yield* spawnScoped([killerScript], {
        stdio: "pipe",
        env: {
          KILLER_MARKER: marker,
          KILLER_MAX: String(MAX_KILLS),
          KILLER_PHASE_MS: String(KILL_PHASE_MS),
          KILLER_WINDOW_MS: String(KILL_WINDOW_MS)
        }
      })
      const kills: Array<number> = []
      yield* Effect.callback<void>((resume) => {
        let rest = ""
        killer.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
          const lines = (rest + chunk).split("\n")
          rest = lines.pop()!
          for (const line of lines) {
            if (line === "ready") resume(Effect.void)
            else kills.push(Number(line.split(" ")[1]))
          }
        })
      })

      const exits = yield* Effect.all(
        Array.from({ length: CLIENTS }, () => Effect.exit(AutoStart.request(path, "WhoAmI", options))),
        { concurrency: "unbounded" }
      )
      yield* killAndWait(killer, "SIGKILL")
      sample()
      yield* Fiber.interrupt(watch)

      const listeners = recorded(marker, "listening")
      const answered: Array<number> = []
      const failures = new Map<string, number>()
      for (const exit of exits) {
        if (Exit.isSuccess(exit)) answered.push(Number(new TextDecoder().decode(exit.value)))
        else {
          const kind = describeFailure(exit.cause)
          failures.set(kind, (failures.get(kind) ?? 0) + 1)
        }
      }

      // What the run leaves once its last daemon is killed too: a stale
      // socket, perhaps a lock or a half-made start-up's files.
      yield* killAll(marker)
      const leftovers = fs.readdirSync(runDir).sort()

      // The next cold client starts a daemon regardless, and it is the only one.
      const nextExit = yield* Effect.exit(AutoStart.request(path, "WhoAmI", options))
      const afterwards = fs.readdirSync(runDir).sort()
      assert.isTrue(Exit.isSuccess(nextExit), `the next start: ${nextExit}`)
      const next = Number(new TextDecoder().decode(yield* nextExit))

      console.log(JSON.stringify({
        clients: CLIENTS,
        daemonsStarted: recorded(marker, "started").length,
        kills: kills.length,
        listenersSeen: listeners.length,
        mostListeningAtOnce: mostListening,
        answered: answered.length,
        failed: Object.fromEntries(failures),
        leftoversAfterKillingTheLast: leftovers,
        filesAfterTheNextStart: afterwards
      }))

      assert.isAtMost(mostListening, 1, "never two listening daemons alive at once")
      assert.isAtLeast(listeners.length, 1)
      // Every answer came from a daemon that listened.
      for (const pid of answered) assert.include(listeners, pid)
      // Every failure is a typed error.
      for (const kind of failures.keys()) assert.isTrue(TYPED.has(kind.split(":")[0]!), `unexpected failure: ${kind}`)
      assert.strictEqual(answered.length + [...failures.values()].reduce((a, b) => a + b, 0), CLIENTS)
      assert.include(recorded(marker, "listening"), next)
      assert.deepStrictEqual(processesWith(marker), [next])
      // Nothing but the socket is left once the next daemon has started.
      assert.deepStrictEqual(afterwards, ["daemon.sock"])
    }), 180_000)
})
