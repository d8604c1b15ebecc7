/**
 * What a server counts, as Effect metrics, so that an operator can see why
 * clients fail: connections accepted, requests served, connections dropped
 * by reason, and bytes in and out. Every series carries the socket path as
 * its `socket` attribute.
 *
 * @since 0.1.0
 */
import * as internal from "./internal/metrics.ts"

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
 * | `request_timeout` | the whole request did not arrive within `requestTimeout` |
 * | `queue_full` | a complete request found every place busy and the queue full |
 * | `queue_timeout` | a complete request waited longer than `queueTimeout` for a place |
 * | `shutdown` | the server stopped before the client sent its request |
 * | `grace_expired` | the server's grace period ran out while the request was in flight |
 * | `client_gone` | the client closed its connection before its response ended (a request waiting is dropped, a running application interrupted) |
 * | `response_stalled` | the client took none of its response for `responseIdleTimeout` |
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
  | "request_timeout"
  | "queue_full"
  | "queue_timeout"
  | "shutdown"
  | "grace_expired"
  | "client_gone"
  | "response_stalled"
  | "handler_failed"
  | "handler_timeout"

/**
 * @since 0.1.0
 * @category metrics
 */
export const accepted = internal.accepted

/**
 * @since 0.1.0
 * @category metrics
 */
export const served = internal.served

/**
 * @since 0.1.0
 * @category metrics
 */
export const dropped = internal.dropped

/**
 * @since 0.1.0
 * @category metrics
 */
export const bytesIn = internal.bytesIn

/**
 * @since 0.1.0
 * @category metrics
 */
export const bytesOut = internal.bytesOut
