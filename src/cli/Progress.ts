/**
 * A progress line on standard error for long client work, redrawn in
 * place, shown only when standard error is a terminal: scripts that
 * capture standard error see nothing.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Stdio from "effect/Stdio"
import * as Output from "./Output.ts"

/**
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  /** Whether the line is drawn at all (standard error is a terminal). */
  readonly enabled: boolean
  /**
   * Whether standard output is the same kind of terminal, so that output
   * written there would land on the progress line unless it is cleared
   * first.
   */
  readonly sharesTerminal: boolean
  /** Records how far the work has come; redraws at most every 100 ms, and at the end. */
  readonly update: (done: number, failed: number) => Effect.Effect<void>
  /** Removes the line, if it is shown (before other output, and at the end). */
  readonly clear: Effect.Effect<void>
}

const REDRAW_EVERY_MS = 100

/** Carriage return, then the text, then "erase to the end of the line". */
const draw = (text: string) => `\r${text}\x1b[K`

/**
 * A progress line for `total` units of work labelled `label`. Drawing errors
 * (a terminal that went away) are ignored: progress is a courtesy, never a
 * reason to fail.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (label: string, total: number): Effect.Effect<Progress, never, Stdio.Stdio> =>
  Effect.gen(function*() {
    const stdio = yield* Stdio.Stdio
    const enabled = yield* stdio.stderrIsTerminal
    const sharesTerminal = enabled && (yield* stdio.stdoutIsTerminal)
    const write = (text: string) => Effect.ignore(Effect.provideService(Output.stderr(text), Stdio.Stdio, stdio))
    if (!enabled) {
      return { enabled, sharesTerminal, update: () => Effect.void, clear: Effect.void } satisfies Progress
    }
    let visible = false
    let drawnAt = 0
    const update = (done: number, failed: number) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        if (visible && now - drawnAt < REDRAW_EVERY_MS && done < total) return Effect.void
        visible = true
        drawnAt = now
        return write(draw(`${label}: ${done}/${total} requests, ${failed} failed`))
      })
    const clear = Effect.suspend(() => {
      if (!visible) return Effect.void
      visible = false
      return write(draw(""))
    })
    return { enabled, sharesTerminal, update, clear } satisfies Progress
  })
