/**
 * The reserved control requests, as bytes: what a client sends to ask a
 * server about itself, and how a server recognises them. Shared by the
 * client (`client/Control.ts`) and the server's engine side
 * (`server/internal/control.ts`); free of Schema, so that a server that
 * answers them does not load it.
 *
 * A control request is exactly `NUL "simple-ipc-control" NUL <verb>`,
 * nothing before or after. It begins with a NUL byte, which none of Git's
 * clients can send: their requests are C strings (the fsmonitor client's
 * token, the test tool's `--token`, `sendbytes` with a printable `--byte`),
 * and a command-line argument cannot hold a NUL at all. An RPC call's
 * request begins with its tag, never with a NUL either.
 *
 * @since 0.2.0
 */

/**
 * What a control request asks: `identity` (who the server says it is) or
 * `status` (its identity, load and counters).
 *
 * @since 0.2.0
 */
export type Verb = "identity" | "status"

/**
 * The bytes every control request begins with.
 *
 * @since 0.2.0
 */
export const PREFIX = "\0simple-ipc-control\0"

const requests: Record<Verb, Uint8Array> = {
  identity: Buffer.from(`${PREFIX}identity`, "latin1"),
  status: Buffer.from(`${PREFIX}status`, "latin1")
}

/**
 * The whole request asking `verb`.
 *
 * @since 0.2.0
 */
export const request = (verb: Verb): Uint8Array => requests[verb]

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && Buffer.compare(a, b) === 0

/**
 * The verb `bytes` asks, when they are exactly a control request; any
 * other request (one with the prefix and more after it included) is the
 * application's.
 *
 * @since 0.2.0
 */
export const verbOf = (bytes: Uint8Array): Verb | undefined => {
  // The first byte settles nearly every request without a comparison.
  if (bytes.length === 0 || bytes[0] !== 0) return undefined
  if (sameBytes(bytes, requests.identity)) return "identity"
  if (sameBytes(bytes, requests.status)) return "status"
  return undefined
}
