/**
 * `is-active`, and the check every client subcommand makes first.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Client from "../client/Client.ts"
import { isPermissionDenied } from "../internal/Errno.ts"

/**
 * Succeeds when a server is listening at `path`; otherwise fails with the
 * answer Git's tool prints (`no server listening at '<path>'`, `path not
 * found '<path>'`, `invalid pipe/socket name '<path>'` or `other error for
 * '<path>'`), except that a path this user may not reach says so: Git
 * answers `invalid pipe/socket name` there, which sends the user looking
 * for a typo.
 *
 * @since 0.1.0
 * @category probing
 */
export const requireListening = (path: string): Effect.Effect<void, Client.ConnectError> =>
  Effect.flatMap(Client.activeState(path), (state) => {
    if (state === "Listening") return Effect.void
    const answer = new Client.ConnectError({ path, reason: state })
    if (state !== "InvalidPath" && state !== "OtherError") return Effect.fail(answer)
    // The state alone does not say why; a connection attempt carries the
    // system's reason. Git's answer stands otherwise.
    return Effect.scoped(Client.connect(path)).pipe(
      Effect.flatMap(() => Effect.fail(answer)),
      Effect.catch((error) => Effect.fail(isPermissionDenied(error.errno) ? error : answer))
    )
  })
