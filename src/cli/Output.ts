/**
 * Writing the command's output. Responses are bytes, not text: they go to
 * standard output exactly as received, through the `Stdio` service (which
 * waits while the output is full, so a large response does not pile up in
 * memory twice).
 *
 * @since 0.1.0
 */
import { Effect, Stdio, Stream } from "effect"
import type { PlatformError } from "effect/PlatformError"

/**
 * Writes bytes or text to standard output, in order.
 *
 * @since 0.1.0
 * @category output
 */
export const stdout = (...chunks: ReadonlyArray<Uint8Array | string>): Effect.Effect<void, PlatformError, Stdio.Stdio> =>
  Stdio.Stdio.use((stdio) => Stream.run(Stream.fromIterable(chunks), stdio.stdout()))

/**
 * Writes bytes or text to standard error, in order.
 *
 * @since 0.1.0
 * @category output
 */
export const stderr = (...chunks: ReadonlyArray<Uint8Array | string>): Effect.Effect<void, PlatformError, Stdio.Stdio> =>
  Stdio.Stdio.use((stdio) => Stream.run(Stream.fromIterable(chunks), stdio.stderr()))

/**
 * A message as Git prints errors: every line prefixed `error: `, without a
 * final newline.
 *
 * @since 0.1.0
 * @category formatting
 */
export const errorText = (message: string): string =>
  message.split("\n").map((line) => `error: ${line}`).join("\n")
