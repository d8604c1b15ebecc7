/**
 * Writing the command's output. Responses are bytes, not text: they go to
 * standard output exactly as received, through the `Stdio` service (which
 * waits while the output is full, so a large response does not pile up in
 * memory twice).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type { PlatformError } from "effect/PlatformError"
import * as Data from "effect/Data"
import * as Runtime from "effect/Runtime"
import * as Stdio from "effect/Stdio"
import * as Stream from "effect/Stream"

/**
 * Writing to standard output or error failed.
 *
 * A reader that went away (`EPIPE`, as in `simple-ipc send --token=big |
 * head -1`) is no error worth a message: the process ends quietly with
 * status 141, as a process killed by SIGPIPE (Git's tool, say) does.
 *
 * @since 0.1.0
 * @category errors
 */
export class OutputError extends Data.TaggedError("OutputError")<{
  readonly stream: "stdout" | "stderr"
  readonly errno?: string | undefined
  readonly reason: string
}> {
  override get [Runtime.errorReported](): boolean {
    return this.errno !== "EPIPE"
  }
  override get [Runtime.errorExitCode](): number {
    return this.errno === "EPIPE" ? 141 : 1
  }
  override get message(): string {
    return `could not write to standard ${this.stream === "stdout" ? "output" : "error"}: ${this.reason}`
  }
}

const outputError = (stream: OutputError["stream"]) => (error: PlatformError) => {
  const cause = error.reason.cause as NodeJS.ErrnoException | undefined
  return new OutputError({
    stream,
    ...(cause?.code !== undefined ? { errno: cause.code } : {}),
    reason: cause?.message ?? error.message
  })
}

/**
 * Writes bytes or text to standard output, in order.
 *
 * @since 0.1.0
 * @category output
 */
export const stdout = (...chunks: ReadonlyArray<Uint8Array | string>): Effect.Effect<void, OutputError, Stdio.Stdio> =>
  Stdio.Stdio.use((stdio) => Stream.run(Stream.fromIterable(chunks), stdio.stdout())).pipe(
    Effect.mapError(outputError("stdout"))
  )

/**
 * Writes bytes or text to standard error, in order.
 *
 * @since 0.1.0
 * @category output
 */
export const stderr = (...chunks: ReadonlyArray<Uint8Array | string>): Effect.Effect<void, OutputError, Stdio.Stdio> =>
  Stdio.Stdio.use((stdio) => Stream.run(Stream.fromIterable(chunks), stdio.stderr())).pipe(
    Effect.mapError(outputError("stderr"))
  )
