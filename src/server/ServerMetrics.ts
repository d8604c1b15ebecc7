/**
 * What a server counts, as Effect metrics, so that an operator can see why
 * clients fail: connections accepted and refused, requests served,
 * connections dropped by reason, and bytes in and out. Every series carries
 * the socket path as its `socket` attribute.
 *
 * @since 0.1.0
 */
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
