/**
 * `status`: what the server at `--name` says about itself (its identity,
 * uptime, connections and counters), as text or, with `--json`, as the
 * status control request's JSON.
 *
 * @since 0.2.0
 */
import * as Effect from "effect/Effect"
import type * as Stdio from "effect/Stdio"
import type * as Client from "../client/Client.ts"
import * as Control from "../client/Control.ts"
import * as Output from "./Output.ts"
import * as Probe from "./Probe.ts"
import * as Send from "./Send.ts"

const seconds = (millis: number): string => `${(millis / 1000).toFixed(1)} s`

/** Drops by reason, commonest first: `3 (probe 2, client_gone 1)`. */
const drops = (counters: Control.Status["counters"]): string => {
  const reasons = Object.entries(counters.droppedByReason).sort(([, a], [, b]) => b - a)
  return reasons.length === 0 ? "0" : `${counters.dropped} (${reasons.map(([reason, n]) => `${reason} ${n}`).join(", ")})`
}

/**
 * The status as text: one `field: value` line each, values aligned.
 *
 * @since 0.2.0
 * @category formatting
 */
export const render = (status: Control.Status): string => {
  const { connections: c, counters } = status
  const rows: Array<readonly [string, string]> = [
    ["identity", Control.formatIdentity(status.identity ?? undefined)],
    ["pid", String(status.pid)],
    ["socket", status.socket],
    ["started", status.identity === null ? "-" : new Date(status.identity.startedAt).toISOString()],
    ["uptime", seconds(status.uptimeMillis)],
    ["connections", `${c.open} open: ${c.reading} reading, ${c.queued} queued, ${c.running} running`],
    ["accepted", String(counters.accepted)],
    ["served", String(counters.served)],
    ["dropped", drops(counters)],
    ["bytes in", String(counters.bytesIn)],
    ["bytes out", String(counters.bytesOut)],
    ["log", status.logPath ?? "-"]
  ]
  const width = Math.max(...rows.map(([field]) => field.length)) + 2
  return rows.map(([field, value]) => `${`${field}:`.padEnd(width)}${value}\n`).join("")
}

/**
 * Asks the server at `name` (which must be listening) for its status and
 * prints it; fails when the server does not answer status requests.
 *
 * @since 0.2.0
 * @category commands
 */
export const status = (options: {
  readonly name: string
  readonly json: boolean
}): Effect.Effect<void, Client.ConnectError | Client.RequestTimeoutError | Control.ControlError | Output.OutputError, Stdio.Stdio> =>
  Effect.gen(function*() {
    yield* Probe.requireListening(options.name)
    const answer = yield* Control.status(options.name, Send.connectOptions)
    yield* Output.stdout(options.json ? `${JSON.stringify(answer)}\n` : render(answer))
  })
