/**
 * A typed protocol on top of opaque bytes, by hand with `effect/Schema`.
 *
 * Simple IPC carries bytes and nothing else. Here a small calculator
 * service gives them a meaning: requests are a union of tagged structs,
 * answers are a result or a typed error, and both travel as JSON text. The
 * schemas are the single source of truth for both sides: the server decodes
 * what it receives and encodes what it sends; the client does the reverse,
 * and turns error answers back into failures of the right type, so callers
 * handle them with `Effect.catchTag` like any local error. A request the
 * server cannot decode is answered with a `BadRequest` error, not dropped.
 *
 * Run it with:
 *
 *     npm run example:typed-protocol
 *     # or, with a Node that runs TypeScript (22.18 or later):
 *     node examples/typed-protocol.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { Client, Server } from "../src/index.ts"

// ---------------------------------------------------------------------------
// The protocol, shared by server and client
// ---------------------------------------------------------------------------

const Add = Schema.TaggedStruct("Add", { a: Schema.Finite, b: Schema.Finite })
const Multiply = Schema.TaggedStruct("Multiply", { a: Schema.Finite, b: Schema.Finite })
const Divide = Schema.TaggedStruct("Divide", { a: Schema.Finite, b: Schema.Finite })

/** Every request the service understands; `_tag` tells them apart. */
const Request = Schema.Union([Add, Multiply, Divide])
type Request = typeof Request.Type

const Result = Schema.TaggedStruct("Result", { value: Schema.Finite })

/** The divisor was zero. */
class DivisionByZero extends Schema.TaggedError<DivisionByZero>()("DivisionByZero", {
  dividend: Schema.Finite
}) {
  override get message() {
    return `cannot divide ${this.dividend} by zero`
  }
}

/** The server could not decode the request; `reason` says what was wrong. */
class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", { reason: Schema.String }) {
  override get message() {
    return `the server rejected the request: ${this.reason}`
  }
}

/** Every answer: a result, or one of the errors, which are schemas too. */
const Response = Schema.Union([Result, DivisionByZero, BadRequest])
type Response = typeof Response.Type

// The wire format: JSON text. `fromJsonString` composes parsing and
// validation, so one decode turns a string into a checked value.
const RequestJson = Schema.fromJsonString(Request)
const ResponseJson = Schema.fromJsonString(Response)

const decoder = new TextDecoder()

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

const evaluate = (request: Request): Effect.Effect<number, DivisionByZero> => {
  switch (request._tag) {
    case "Add":
      return Effect.succeed(request.a + request.b)
    case "Multiply":
      return Effect.succeed(request.a * request.b)
    case "Divide":
      return request.b === 0 ? Effect.fail(new DivisionByZero({ dividend: request.a })) : Effect.succeed(request.a / request.b)
  }
}

// Every outcome becomes a Response, so the client always gets an answer it
// can decode; failures travel as data and are re-raised on the other side.
const handler = (request: Uint8Array, reply: Server.Reply) =>
  Schema.decodeEffect(RequestJson)(decoder.decode(request)).pipe(
    Effect.mapError((error) => new BadRequest({ reason: error.message })),
    Effect.flatMap(evaluate),
    Effect.map((value): Response => Result.make({ value })),
    Effect.catch((error) => Effect.succeed<Response>(error)),
    // Only a result that is not a finite number (an overflow) can fail to
    // encode; that is a bug of this server, hence a defect.
    Effect.flatMap((response) => Effect.orDie(Schema.encodeEffect(ResponseJson)(response))),
    Effect.flatMap(reply)
  )

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

/**
 * Sends JSON text and decodes the answer: a result succeeds with its value,
 * an error answer fails with the typed error the server sent.
 */
const send = (path: string, json: string) =>
  Client.request(path, json).pipe(
    Effect.flatMap((bytes) => Schema.decodeEffect(ResponseJson)(decoder.decode(bytes))),
    Effect.flatMap((response) => response._tag === "Result" ? Effect.succeed(response.value) : Effect.fail(response))
  )

/** A typed call: only a valid `Request` compiles. */
const call = (path: string, request: Request) =>
  Effect.flatMap(Schema.encodeEffect(RequestJson)(request), (json) => send(path, json))

// ---------------------------------------------------------------------------
// Demo
// ---------------------------------------------------------------------------

/** Runs one call and prints its outcome; the domain errors are handled by tag. */
const show = (label: string, answer: ReturnType<typeof send>) =>
  answer.pipe(
    Effect.map(String),
    Effect.catchTags({
      DivisionByZero: (error) => Effect.succeed(`DivisionByZero: ${error.message}`),
      BadRequest: (error) => Effect.succeed(`BadRequest: ${error.message}`)
    }),
    Effect.flatMap((outcome) => Console.log(`${label} -> ${outcome}`))
  )

const program = Effect.gen(function*() {
  const dir = yield* Effect.acquireRelease(
    Effect.sync(() => fs.mkdtempSync(nodePath.join(os.tmpdir(), "simple-ipc-typed-"))),
    (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
  )
  const path = nodePath.join(dir, "calculator.sock")
  yield* Server.make(path, handler)

  // What actually travels: JSON text in the request and response messages.
  const raw = yield* Client.request(path, `{"_tag":"Add","a":2,"b":3}`)
  yield* Console.log(`wire: {"_tag":"Add","a":2,"b":3} -> ${decoder.decode(raw)}`)

  yield* show("2 + 3", call(path, Add.make({ a: 2, b: 3 })))
  yield* show("6 * 7", call(path, Multiply.make({ a: 6, b: 7 })))
  yield* show("1 / 4", call(path, Divide.make({ a: 1, b: 4 })))
  yield* show("1 / 0", call(path, Divide.make({ a: 1, b: 0 })))
  // A client that bypasses the schema (another program, an older version):
  // the server answers with a typed error instead of guessing.
  yield* show("Divide without b", send(path, `{"_tag":"Divide","a":1}`))
  yield* show("Modulo", send(path, `{"_tag":"Modulo","a":7,"b":2}`))
  yield* show("not JSON", send(path, "7 % 2"))
})

NodeRuntime.runMain(Effect.scoped(program))
