/**
 * The server's metrics, and the one place that binds them to a socket and
 * says how a drop is logged.
 */
import type * as Cause from "effect/Cause"
import type { Status } from "../../client/Control.ts"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { DropReason } from "../ServerMetrics.ts"

export type { DropReason }

export const accepted = Metric.counter("simple_ipc_connections_accepted", {
  description: "Connections accepted by a Simple IPC server",
  incremental: true
})

export const served = Metric.counter("simple_ipc_requests_served", {
  description: "Requests answered in full (response and flush written)",
  incremental: true
})

export const dropped = Metric.counter("simple_ipc_connections_dropped", {
  description: "Connections ended without a served request, by reason",
  incremental: true
})

export const bytesIn = Metric.counter("simple_ipc_bytes_in", {
  description: "Request payload bytes received",
  incremental: true
})

export const bytesOut = Metric.counter("simple_ipc_bytes_out", {
  description: "Response payload bytes sent",
  incremental: true
})

/**
 * The metric series of one server, bound to its socket path and to the
 * context its metrics registry lives in. Updates are synchronous and
 * allocate nothing, so they can run on every request and inside socket
 * callbacks.
 */
export interface Recorder {
  readonly accepted: () => void
  readonly served: () => void
  readonly dropped: (reason: DropReason) => void
  readonly bytesIn: (n: number) => void
  readonly bytesOut: (n: number) => void
  /**
   * This server's own totals since it started, for a status answer: the
   * series may outlive it (another server on the same path, later in the
   * same process, adds to them).
   */
  readonly totals: () => Status["counters"]
}

export const recorder = (socket: string, context: Context.Context<never>): Recorder => {
  // The attributes go into the context once: `Metric.withAttributes` would
  // build a new context on every update.
  const bind = (metric: Metric.Counter<number>, attributes: Record<string, string>) => {
    const tagged = Context.add(context, Metric.CurrentMetricAttributes, {
      ...Context.get(context, Metric.CurrentMetricAttributes),
      ...attributes
    })
    return (n: number) => metric.updateUnsafe(n, tagged)
  }
  const acceptedSeries = bind(accepted, { socket })
  const servedSeries = bind(served, { socket })
  const bytesInSeries = bind(bytesIn, { socket })
  const bytesOutSeries = bind(bytesOut, { socket })
  const drops = new Map<DropReason, (n: number) => void>()
  const totals = { accepted: 0, served: 0, bytesIn: 0, bytesOut: 0 }
  const droppedByReason = new Map<DropReason, number>()
  return {
    accepted: () => {
      totals.accepted++
      acceptedSeries(1)
    },
    served: () => {
      totals.served++
      servedSeries(1)
    },
    dropped: (reason) => {
      let series = drops.get(reason)
      if (series === undefined) {
        series = bind(dropped, { socket, reason })
        drops.set(reason, series)
      }
      droppedByReason.set(reason, (droppedByReason.get(reason) ?? 0) + 1)
      series(1)
    },
    bytesIn: (n) => {
      totals.bytesIn += n
      bytesInSeries(n)
    },
    bytesOut: (n) => {
      totals.bytesOut += n
      bytesOutSeries(n)
    },
    totals: () => {
      let dropped = 0
      for (const n of droppedByReason.values()) dropped += n
      return { ...totals, dropped, droppedByReason: Object.fromEntries(droppedByReason) }
    }
  }
}

/**
 * How loudly a drop is logged: a failing application is an error; what a
 * limit cut off is worth a warning (an operator may have set it too low);
 * the rest is what clients do every day (probes, hang-ups) and only debug.
 */
export const logDrop = (reason: DropReason, cause: Cause.Cause<unknown> | undefined): Effect.Effect<void> => {
  const detail = cause === undefined ? [] : [cause]
  switch (reason) {
    case "handler_failed":
      return Effect.logError("request handler failed; connection closed", ...detail)
    case "handler_timeout":
    case "too_large":
    case "idle_timeout":
    case "request_timeout":
    case "queue_timeout":
    case "response_stalled":
    case "grace_expired":
      return Effect.logWarning(`connection dropped: ${reason}`, ...detail)
    default:
      return Effect.logDebug(`connection dropped: ${reason}`, ...detail)
  }
}
