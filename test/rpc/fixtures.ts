/**
 * An effect/rpc group exercising every kind of call, its handlers, a
 * middleware that reads a header, and helpers to serve it at a fresh
 * socket and call it.
 */
import { assert } from "@effect/vitest"
import { Cause, Context, Deferred, Effect, Exit, Layer, Schema, Stream } from "effect"
import { Rpc, RpcClient, RpcGroup, RpcMiddleware, RpcServer } from "effect/rpc"
import * as Client from "../../src/client/Client.ts"
import * as SimpleIpcRpc from "../../src/rpc/SimpleIpcRpc.ts"
import * as Server from "../../src/server/Server.ts"
import { socketPath } from "../support/tempdir.ts"

export class DivideByZero extends Schema.TaggedError<DivideByZero>()("DivideByZero", {
  dividend: Schema.Number
}) {}

export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  detail: Schema.String
}) {}

/** Who made the call, as the middleware read it from the `x-user` header. */
export class CurrentUser extends Context.Service<CurrentUser, string>()("test/CurrentUser") {}

/** Reads the `x-user` header; fails the call without one. */
export class Authentication extends RpcMiddleware.Service<Authentication, { provides: CurrentUser }>()(
  "test/Authentication",
  { error: Unauthorized }
) {}

export const AuthenticationLive = Layer.succeed(Authentication, (effect, { headers }) => {
  const user = headers["x-user"]
  return user === undefined
    ? Effect.fail(new Unauthorized({ detail: "no x-user header" }))
    : Effect.provideService(effect, CurrentUser, user)
})

const Pair = { a: Schema.Number, b: Schema.Number }

export const Item = Schema.Struct({ n: Schema.Int, text: Schema.String })

export class Calculator extends RpcGroup.make(
  Rpc.make("Add", { payload: Pair, success: Schema.Number }),
  Rpc.make("Divide", { payload: Pair, success: Schema.Number, error: DivideByZero }),
  /** No payload; a date in the answer. */
  Rpc.make("Status", { success: Schema.Struct({ version: Schema.String, since: Schema.Date }) }),
  Rpc.make("Count", { payload: { to: Schema.Int }, success: Schema.Int, stream: true }),
  /** Items as long as the client reads them; `produced` counts them. */
  Rpc.make("Endless", { success: Schema.String, stream: true }),
  /** Waits until interrupted, reporting both. */
  Rpc.make("Hang"),
  Rpc.make("Crash"),
  /** Two items, then a defect. */
  Rpc.make("CrashMidStream", { success: Schema.Int, stream: true }),
  Rpc.make("CountThenFail", { payload: { to: Schema.Int }, success: Schema.Int, error: DivideByZero, stream: true }),
  Rpc.make("WhoAmI", { success: Schema.String }).middleware(Authentication),
  /** Fails with an error the RPC does not declare (possible only past the types). */
  Rpc.make("Fumble"),
  /** Answers something its success schema refuses. */
  Rpc.make("Lie", { success: Schema.Int }),
  /** `to` items carrying `text`, counted in `produced` as they are made. */
  Rpc.make("Lines", { payload: { to: Schema.Int, text: Schema.String }, success: Item, stream: true }),
  Rpc.make("Stop")
) {}

/** Version 1 of a service, as an older server has it. */
export class StoreV1 extends RpcGroup.make(
  Rpc.make("Info", { success: Schema.Struct({ name: Schema.String }) }),
  Rpc.make("List", { success: Schema.Struct({ key: Schema.String }), stream: true })
) {}

export const storeV1Handlers = StoreV1.toLayer({
  Info: () => Effect.succeed({ name: "store" }),
  List: () => Stream.make({ key: "a" }, { key: "b" })
})

/** Version 2: `Info` and `List` items gained a field, and there is a new RPC. */
export class StoreV2 extends RpcGroup.make(
  Rpc.make("Info", { success: Schema.Struct({ name: Schema.String, size: Schema.Int }) }),
  Rpc.make("List", { success: Schema.Struct({ key: Schema.String, size: Schema.Int }), stream: true }),
  Rpc.make("Compact", { payload: { level: Schema.Int } })
) {}

export const storeV2Handlers = StoreV2.toLayer({
  Info: () => Effect.succeed({ name: "store", size: 3 }),
  List: () => Stream.make({ key: "a", size: 1 }),
  Compact: () => Effect.void
})

/** What the handlers let a test observe. */
export interface Observed {
  /** Items `Endless` or `Lines` has produced. */
  produced: number
  /** Completed when `Endless` or `Hang` starts. */
  readonly started: Deferred.Deferred<void>
  /** Completed when `Endless` or `Hang` is interrupted. */
  readonly interrupted: Deferred.Deferred<void>
}

export const makeObserved = Effect.gen(function*() {
  return { produced: 0, started: yield* Deferred.make<void>(), interrupted: yield* Deferred.make<void>() } as Observed
})

export const since = new Date("2024-01-02T03:04:05.000Z")

/** A line long enough that a few hundred fill a socket's buffers. */
const LINE = "x".repeat(1000)

export const handlers = (observed: Observed) =>
  Calculator.toLayer({
    Add: ({ a, b }) => Effect.succeed(a + b),
    Divide: ({ a, b }) => b === 0 ? Effect.fail(new DivideByZero({ dividend: a })) : Effect.succeed(a / b),
    Status: () => Effect.succeed({ version: "1.2.3", since }),
    Count: ({ to }) => Stream.range(1, to),
    Endless: () =>
      Stream.fromEffect(Deferred.succeed(observed.started, undefined)).pipe(
        Stream.drain,
        Stream.concat(Stream.fromEffectRepeat(Effect.sync(() => {
          observed.produced++
          return LINE
        }))),
        Stream.onExit((exit) => exit._tag === "Failure" ? Deferred.succeed(observed.interrupted, undefined) : Effect.void)
      ),
    Hang: () =>
      Deferred.succeed(observed.started, undefined).pipe(
        Effect.andThen(Effect.never),
        Effect.onInterrupt(() => Deferred.succeed(observed.interrupted, undefined))
      ),
    Crash: () => Effect.die(new Error("the handler crashed")),
    CrashMidStream: () => Stream.concat(Stream.make(1, 2), Stream.die(new Error("the stream crashed"))),
    CountThenFail: ({ to }) => Stream.concat(Stream.range(1, to), Stream.fail(new DivideByZero({ dividend: to }))),
    WhoAmI: () => CurrentUser.use(Effect.succeed),
    Fumble: () => Effect.fail(new Error("not declared")) as unknown as Effect.Effect<void>,
    Lie: () => Effect.succeed(1.5),
    Lines: ({ text, to }) =>
      Stream.range(1, to).pipe(Stream.map((n) => {
        observed.produced++
        return { n, text }
      })),
    Stop: () => Server.IpcServer.use((server) => server.stop)
  })

/** The calculator served at a fresh socket in this scope; its path and what its handlers saw. */
export const serve = (options?: Server.Options) =>
  Effect.gen(function*() {
    const path = yield* socketPath()
    const observed = yield* makeObserved
    yield* Layer.build(
      RpcServer.layer(Calculator).pipe(
        Layer.provide([handlers(observed), AuthenticationLive]),
        Layer.provide(SimpleIpcRpc.layerProtocolServer(path, options))
      )
    )
    return { path, observed }
  })

/**
 * A client of the calculator at `path`, for this scope; told the group
 * (unary calls read in one piece) unless `group` is false.
 */
export const client = (path: string, options?: Client.RequestOptions & { readonly group?: false }) =>
  RpcClient.make(Calculator).pipe(
    Effect.provide(SimpleIpcRpc.layerProtocolClient(path, { ...options, group: options?.group === false ? undefined : Calculator }))
  )

/** The message of the defect a call died with (fails the test if it did not die). */
export const defectOf = <A, E>(exit: Exit.Exit<A, E>): string => {
  assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause), `expected a defect, got ${String(exit)}`)
  const defect = Cause.squash((exit as Exit.Failure<A, E>).cause)
  return defect instanceof Error ? defect.message : String(defect)
}
