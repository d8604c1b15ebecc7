import { Effect } from "effect"
import * as Client from "../../src/client/Client.ts"

/** Whether a server answers at `path` (for `waitUntil`). */
export const listening = (path: string) => Effect.map(Client.activeState(path), (state) => state === "Listening")
