/**
 * What ends a server's layer when the server stops by itself.
 *
 * `Layer.launch(layer)` builds the layer and then waits forever, and
 * `NodeRuntime.runMain` keeps the process alive while it waits: a daemon
 * run that way would outlive its own server (after a `quit`, a `stop` or a
 * stolen socket) with nothing left to serve. So the layer interrupts the
 * fiber that built it once its server has stopped by itself, unless
 * something awaited the server's `join` (that program decides itself what
 * comes after the stop). Closing the layer's scope, the ordinary way a
 * layer ends, interrupts nothing.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

/**
 * The running server `server`, whose end interrupts the fiber building the
 * layer (the current fiber) unless its `join` has been awaited by then.
 * Only `join` differs: awaiting it records that the program follows the
 * server's stop itself.
 */
export const endWithServer = <S extends { readonly join: Effect.Effect<void> }>(
  server: S
): Effect.Effect<S, never, Scope.Scope> =>
  Effect.gen(function*() {
    const builder = yield* Effect.fiber
    let awaited = false
    // Forked into the layer's scope, after the server: when the scope
    // closes, this watcher is interrupted before the server stops.
    yield* Effect.forkScoped(
      Effect.andThen(
        server.join,
        Effect.sync(() => {
          if (!awaited) builder.interruptUnsafe(builder.id)
        })
      )
    )
    return {
      ...server,
      join: Effect.suspend(() => {
        awaited = true
        return server.join
      })
    }
  })
