/**
 * A protocol exercising every kind of command, the handlers that serve it,
 * and two versions of a smaller protocol for compatibility tests.
 */
import { Effect, Schema, Stream } from "effect"
import * as Server from "../../src/server/Server.ts"
import * as Protocol from "../../src/typed/Protocol.ts"

export class DivideByZero extends Schema.TaggedError<DivideByZero>()("DivideByZero", {
  dividend: Schema.Number
}) {}

export class TooFar extends Schema.TaggedError<TooFar>()("TooFar", {
  limit: Schema.Int
}) {}

const Pair = Schema.Struct({ a: Schema.Number, b: Schema.Number })

export const Item = Schema.Struct({ n: Schema.Int, text: Schema.String })

export const Calculator = Protocol.make(
  Protocol.command("add", { payload: Pair, success: Schema.Number }),
  Protocol.command("divide", { payload: Pair, success: Schema.Number, error: DivideByZero }),
  /** No request; the response carries a date, which travels as an ISO string. */
  Protocol.command("status", {
    success: Schema.Struct({ version: Schema.String, since: Schema.Date, tags: Schema.Array(Schema.String) })
  }),
  Protocol.command("count", {
    payload: Schema.Struct({ to: Schema.Int, text: Schema.String }),
    success: Item,
    stream: true
  }),
  /** A stream that fails with a declared error after `limit` items. */
  Protocol.command("countUpTo", {
    payload: Schema.Struct({ to: Schema.Int, limit: Schema.Int }),
    success: Schema.Int,
    error: TooFar,
    stream: true
  }),
  /** A handler that dies. */
  Protocol.command("crash"),
  /** A stream that dies after two items. */
  Protocol.command("crashMidStream", { success: Schema.Int, stream: true }),
  /** A handler that fails with an error its command does not declare (possible only past the types). */
  Protocol.command("fumble"),
  /** A handler that answers something its response schema rejects. */
  Protocol.command("lie", { success: Schema.Int }),
  Protocol.command("stop")
)

export const since = new Date("2024-01-02T03:04:05.000Z")

/** The handlers; `produced` counts the items `count` has produced. */
export const handlers = (produced: { count: number } = { count: 0 }) => ({
  add: ({ a, b }: typeof Pair.Type) => Effect.succeed(a + b),
  divide: ({ a, b }: typeof Pair.Type) => b === 0 ? Effect.fail(new DivideByZero({ dividend: a })) : Effect.succeed(a / b),
  status: () => Effect.succeed({ version: "1.2.3", since, tags: ["a", "b"] }),
  count: ({ text, to }: { readonly to: number; readonly text: string }) =>
    Stream.range(1, to).pipe(Stream.map((n) => {
      produced.count++
      return { n, text }
    })),
  countUpTo: ({ limit, to }: { readonly to: number; readonly limit: number }) =>
    Stream.range(1, to).pipe(Stream.mapEffect((n) => n > limit ? Effect.fail(new TooFar({ limit })) : Effect.succeed(n))),
  crash: () => Effect.die(new Error("the handler crashed")),
  crashMidStream: () => Stream.concat(Stream.make(1, 2), Stream.die(new Error("the stream crashed"))),
  fumble: () => Effect.fail(new Error("not declared")) as unknown as Effect.Effect<void>,
  lie: () => Effect.succeed(1.5),
  stop: () => Server.IpcServer.use((server) => server.stop)
})

/** Version 1 of a service, as an older server has it. */
export const StoreV1 = Protocol.make(
  Protocol.command("info", { success: Schema.Struct({ name: Schema.String }) }),
  Protocol.command("list", { success: Schema.Struct({ key: Schema.String }), stream: true })
)

export const storeV1Handlers = {
  info: () => Effect.succeed({ name: "store" }),
  list: () => Stream.make({ key: "a" }, { key: "b" })
}

/** Version 2: `info` and `list` items gained a field, and there is a new command. */
export const StoreV2 = Protocol.make(
  Protocol.command("info", { success: Schema.Struct({ name: Schema.String, size: Schema.Int }) }),
  Protocol.command("list", { success: Schema.Struct({ key: Schema.String, size: Schema.Int }), stream: true }),
  Protocol.command("compact", { payload: Schema.Struct({ level: Schema.Int }) })
)
