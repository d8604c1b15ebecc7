/**
 * Git's Simple IPC mechanism, Effect-native and wire-compatible with Git's
 * C implementation.
 *
 * @since 0.1.0
 */

/**
 * pkt-line framing: pure functions and Stream transformations.
 *
 * @since 0.1.0
 */
export * as PktLine from "./framing/PktLine.ts"
