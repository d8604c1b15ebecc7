import { Effect } from "effect"
import * as Client from "../../src/client/Client.ts"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { activeHandles, noMoreHandlesThan, waitUntil } from "./raw.ts"

/**
 * One full server cycle at `path`, so that what the runtime opens once per
 * process (libuv's shared inotify descriptor, say) is open before a
 * baseline of descriptors is taken: only what a server leaves behind
 * should count.
 */
export const warmUp = (path: string) =>
  Effect.gen(function*() {
    const handles = activeHandles()
    yield* Effect.scoped(Effect.andThen(Server.make(path, TestApplication.handler), Client.request(path, "ping")))
    yield* waitUntil(Effect.sync(() => noMoreHandlesThan(handles)))
  })
