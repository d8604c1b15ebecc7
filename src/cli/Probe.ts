/**
 * `is-active`, and the check every client subcommand makes first.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Client from "../client/Client.ts"

/**
 * Succeeds when a server is listening at `path`; otherwise fails with the
 * answer Git's tool prints (`no server listening at '<path>'`, `path not
 * found '<path>'`, `invalid pipe/socket name '<path>'` or `other error for
 * '<path>'`).
 *
 * @since 0.1.0
 * @category probing
 */
export const requireListening = (path: string): Effect.Effect<void, Client.ConnectError> =>
  Effect.flatMap(Client.activeState(path), (state) =>
    state === "Listening" ? Effect.void : Effect.fail(new Client.ConnectError({ path, state })))
