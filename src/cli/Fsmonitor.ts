/**
 * `fsmonitor query|flush|stop`: talk to Git's fsmonitor daemon of a
 * worktree, and print its answer: the token, then one path per line (`/`
 * when everything may have changed), or JSON.
 *
 * @since 0.2.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Stdio from "effect/Stdio"
import * as Fsmonitor from "../fsmonitor/Fsmonitor.ts"
import * as Options from "./Options.ts"
import * as Output from "./Output.ts"

/**
 * The answer as the command prints it: the token, then the paths one per
 * line, or `/` for the trivial answer; with `json`, one line of JSON.
 *
 * @since 0.2.0
 * @category formatting
 */
export const render = (answer: Fsmonitor.Answer, json: boolean): string => {
  const paths = answer._tag === "Trivial" ? [] : answer.paths
  if (json) return `${JSON.stringify({ token: answer.token, trivial: answer._tag === "Trivial", paths })}\n`
  return [answer.token, ...(answer._tag === "Trivial" ? ["/"] : paths)].map((line) => `${line}\n`).join("")
}

/**
 * Runs `action` against the daemon of `--worktree`.
 *
 * @since 0.2.0
 * @category commands
 */
export const fsmonitor = (
  options: Options.Options,
  action: string | undefined
): Effect.Effect<void, Fsmonitor.FsmonitorError | Fsmonitor.RepositoryError | Output.OutputError, Stdio.Stdio> =>
  Effect.gen(function*() {
    const monitor = yield* Fsmonitor.make(options.worktree)
    switch (action) {
      case "stop":
        return yield* monitor.stop({ timeout: Duration.seconds(options.maxWait) })
      case "flush":
        return yield* Output.stdout(render(yield* monitor.flush, options.json))
      default: {
        // Without --token, ask with one no daemon vouches for: the answer
        // is the daemon's current token, to ask with next time.
        const token = options.token === Options.NO_COMMAND ? Fsmonitor.unknownToken : options.token
        return yield* Output.stdout(render(yield* monitor.query(token), options.json))
      }
    }
  })
