/**
 * The monitor as a service: a tree watcher feeding a change log, for the
 * life of the layer.
 */
import { Context, Effect, Layer } from "effect"
import * as ChangeLog from "./ChangeLog.ts"
import type { Changes } from "./Protocol.ts"
import * as TreeWatcher from "./TreeWatcher.ts"

export class Monitor extends Context.Service<Monitor, {
  /** What changed under the root since `token` (see {@link Changes}). */
  readonly changesSince: (token: string) => Effect.Effect<Changes>
}>()("examples/monitor/Monitor") {
  /** Watches `root` from the moment the layer is built. */
  static readonly layer = (root: string, options?: ChangeLog.Options): Layer.Layer<Monitor, TreeWatcher.WatchError> =>
    Layer.effect(
      Monitor,
      Effect.gen(function*() {
        const log = ChangeLog.make(options)
        yield* TreeWatcher.watch(root, { onChange: log.record, onLost: log.forget })
        return Monitor.of({ changesSince: (token) => Effect.sync(() => log.since(token)) })
      })
    )
}
