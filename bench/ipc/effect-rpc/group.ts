/**
 * The benchmark's procedures as an `effect/rpc` group: the equivalent of the
 * pkt-line application's `ping` and `sendbytes` commands.
 */
import { Schema } from "effect"
import { Rpc, RpcGroup } from "effect/rpc"

/** `Ping` → `"pong"`; `SendBytes({ ballast })` → the `rcvd:`/`errs:` answer of SPEC 5.1. */
export class BenchRpcs extends RpcGroup.make(
  Rpc.make("Ping", { success: Schema.String }),
  Rpc.make("SendBytes", { payload: { ballast: Schema.String }, success: Schema.String })
) {}
