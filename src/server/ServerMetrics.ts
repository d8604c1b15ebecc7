/**
 * What a server counts, as Effect metrics, so that an operator can see why
 * clients fail: connections accepted and refused, requests served,
 * connections dropped by reason, and bytes in and out. Every series carries
 * the socket path as its `socket` attribute.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import * as Metric from "effect/Metric"

/**
 * Why a connection ended without a served request.
 *
 * | reason | what happened |
 * | --- | --- |
 * | `probe` | the client hung up without sending anything ("is anyone listening?") |
 * | `malformed` | a bad pkt-line header |
 * | `incomplete` | the client hung up in the middle of its request |
 * | `too_large` | the request exceeded `maxRequestBytes` |
 * | `idle_timeout` | the client stopped sending mid-request for `requestIdleTimeout` |
 * | `queue_full` | refused at once: every worker busy and the queue full |
 * | `shutdown` | the server stopped before the client sent its request |
 * | `client_gone` | the client went away while the response was being written |
 * | `handler_failed` | the application failed or died |
 * | `handler_timeout` | the application ran past `handlerTimeout` |
 *
 * @since 0.1.0
 * @category models
 */
export type DropReason =
  | "probe"
  | "malformed"
  | "incomplete"
  | "too_large"
  | "idle_timeout"
  | "queue_full"
  | "shutdown"
  | "client_gone"
  | "handler_failed"
  | "handler_timeout"

/**
 * @since 0.1.0
 * @category metrics
 */
export const accepted = Metric.counter("simple_ipc_connections_accepted", {
  description: "Connections accepted by a Simple IPC server",
  incremental: true
})

/**
 * @since 0.1.0
 * @category metrics
 */
export const served = Metric.counter("simple_ipc_requests_served", {
  description: "Requests answered in full (response and flush written)",
  incremental: true
})

/**
 * @since 0.1.0
 * @category metrics
 */
export const dropped = Metric.counter("simple_ipc_connections_dropped", {
  description: "Connections ended without a served request, by reason",
  incremental: true
})

/**
 * @since 0.1.0
 * @category metrics
 */
export const bytesIn = Metric.counter("simple_ipc_bytes_in", {
  description: "Request payload bytes received",
  incremental: true
})

/**
 * @since 0.1.0
 * @category metrics
 */
export const bytesOut = Metric.counter("simple_ipc_bytes_out", {
  description: "Response payload bytes sent",
  incremental: true
})

/**
 * The series of one server, bound to its socket path and to the context
 * its metrics registry lives in. Updating is synchronous and allocation
 * free, so it can run on every request and inside socket callbacks.
 *
 * @since 0.1.0
 * @category models
 */
export interface Recorder {
  readonly accepted: () => void
  readonly served: () => void
  readonly dropped: (reason: DropReason) => void
  readonly bytesIn: (n: number) => void
  readonly bytesOut: (n: number) => void
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const recorder = (socket: string, context: Context.Context<never>): Recorder => {
  const bind = (metric: Metric.Counter<number>) => {
    const series = Metric.withAttributes(metric, { socket })
    return (n: number) => series.updateUnsafe(n, context)
  }
  const accept = bind(accepted)
  const serve = bind(served)
  const drops = new Map<DropReason, (n: number) => void>()
  return {
    accepted: () => accept(1),
    served: () => serve(1),
    dropped: (reason) => {
      let series = drops.get(reason)
      if (series === undefined) {
        const metric = Metric.withAttributes(dropped, { socket, reason })
        series = (n) => metric.updateUnsafe(n, context)
        drops.set(reason, series)
      }
      series(1)
    },
    bytesIn: bind(bytesIn),
    bytesOut: bind(bytesOut)
  }
}
