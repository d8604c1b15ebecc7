/**
 * The benchmark's procedures as an `effect/rpc` group: the equivalent of the
 * pkt-line application's `ping` and `sendbytes` commands.
 */
import { Effect, Schema } from "effect"
import { Rpc, RpcGroup } from "effect/rpc"
import { sendbytesAnswer } from "../app.ts"

/**
 * The options of every effect/rpc server and client in the benchmark, so
 * that all its RPC rows run alike: the defaults (a span per call, with no
 * tracer installed), or, with `BENCH_RPC_TRACING=off`, `disableTracing`.
 */
export const rpcOptions: { readonly disableTracing?: boolean } = process.env.BENCH_RPC_TRACING === "off"
  ? { disableTracing: true }
  : {}

/** `Ping` → `"pong"`; `SendBytes({ ballast })` → the `rcvd:`/`errs:` answer of SPEC 5.1. */
export class BenchRpcs extends RpcGroup.make(
  Rpc.make("Ping", { success: Schema.String }),
  Rpc.make("SendBytes", { payload: { ballast: Schema.String }, success: Schema.String })
) {}

/** The handlers every RPC server of the benchmark serves (ballast is ASCII here). */
export const BenchHandlers = BenchRpcs.toLayer({
  Ping: () => Effect.succeed("pong"),
  SendBytes: ({ ballast }) => Effect.sync(() => sendbytesAnswer(Buffer.from(ballast, "latin1")))
})
