/**
 * What the file-change monitor answers, as an effect/rpc group. On the wire:
 *
 *     changes {"since":"<token>"}  ->  {"token":"...","fullRescan":false,"paths":["a.txt"]}
 *     stop                         ->  (nothing; the daemon exits)
 *
 * so `simple-ipc send --name=<socket> --token='changes {"since":"x"}'`
 * talks to it too.
 */
import { Schema } from "effect"
import { Rpc, RpcGroup } from "effect/rpc"

/** The answer to "what changed since token T". */
export const Changes = Schema.Struct({
  /** Pass this to the next query. */
  token: Schema.String,
  /**
   * The monitor cannot tell what changed since the given token (unknown,
   * from another daemon, older than the events it keeps, or events were
   * lost): look at everything. `paths` is then empty.
   */
  fullRescan: Schema.Boolean,
  /** Changed paths relative to the watched root, `/`-separated, sorted, without duplicates. */
  paths: Schema.Array(Schema.String)
})

export type Changes = typeof Changes.Type

export class MonitorRpcs extends RpcGroup.make(
  Rpc.make("changes", { payload: { since: Schema.String }, success: Changes }),
  Rpc.make("stop")
) {}
