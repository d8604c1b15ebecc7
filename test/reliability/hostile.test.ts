/**
 * Property tests with hostile peers: clients that send garbage, stall or
 * hang up at any point against a live server, and servers that answer
 * garbage, hang up or stall against our client.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Stream } from "effect"
import fc from "fast-check"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as nodePath from "node:path"
import * as Client from "../../src/client/Client.ts"
import * as PktLine from "../../src/framing/PktLine.ts"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { bytes, text } from "../support/bytes.ts"
import { baseline } from "../support/raw.ts"
import { warmUp } from "../support/warmUp.ts"

/** One step of a hostile client. */
type Step =
  | { readonly _tag: "write"; readonly data: Uint8Array }
  | { readonly _tag: "pause"; readonly ms: number }
  | { readonly _tag: "halfClose" }
  | { readonly _tag: "hangUp" }

const hexHeader = fc.oneof(
  fc.integer({ min: 0, max: 0xffff }).map((n) => n.toString(16).padStart(4, "0")),
  fc.constantFrom("0000", "0001", "0002", "0003", "0004", "fff0", "fff1", "FFFF", "zzzz", "00", "000")
)
const chunk = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.tuple(hexHeader, fc.uint8Array({ maxLength: 40 })).map(([h, p]) => PktLine.concat([bytes(h), p])),
  fc.constant(PktLine.encodeMessageBytes(bytes("ping")))
)
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: chunk.map((data) => ({ _tag: "write" as const, data })) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 15 }).map((ms) => ({ _tag: "pause" as const, ms })) },
  { weight: 1, arbitrary: fc.constant({ _tag: "halfClose" as const }) },
  { weight: 1, arbitrary: fc.constant({ _tag: "hangUp" as const }) }
)
const script = fc.array(step, { maxLength: 8 })

/**
 * Plays a hostile client's script, then hangs up (whatever the server did
 * meanwhile). Never fails.
 */
const play = (path: string, steps: ReadonlyArray<Step>) =>
  new Promise<void>((resolve) => {
    const socket = net.connect({ path, allowHalfOpen: true })
    socket.on("error", () => {})
    socket.on("data", () => {})
    socket.on("close", () => resolve())
    socket.on("connect", async () => {
      for (const s of steps) {
        if (socket.destroyed) break
        if (s._tag === "write" && !socket.writableEnded) socket.write(s.data)
        else if (s._tag === "pause") await new Promise((r) => setTimeout(r, s.ms))
        else if (s._tag === "halfClose") socket.end()
        else if (s._tag === "hangUp") socket.destroy()
      }
      socket.destroy()
    })
  })

const withServer = async <A>(f: (path: string) => Promise<A>, options?: Server.Options): Promise<A> => {
  const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "sipc-hostile-"))
  const path = nodePath.join(dir, "s")
  try {
    return await Effect.runPromise(Effect.scoped(Effect.andThen(
      Server.make(path, TestApplication.handler, options),
      Effect.promise(() => f(path))
    )))
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

describe("hostile clients", () => {
  it("garbage, stalls and early hang-ups never harm the server or a valid request sent alongside", async () => {
    const warmDir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "sipc-hostile-"))
    await Effect.runPromise(warmUp(nodePath.join(warmDir, "warm")))
    fs.rmSync(warmDir, { recursive: true, force: true })
    const settled = baseline()
    await withServer(async (path) => {
      await fc.assert(
        fc.asyncProperty(fc.array(script, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 300 }), async (scripts, n) => {
          const ballast = "v".repeat(n)
          const valid = Effect.runPromise(Client.request(path, `sendbytes ${ballast}`, { waitIfBusy: true }))
          await Promise.all(scripts.map((s) => play(path, s)))
          assert.strictEqual(text(await valid), `rcvd:v${String(n).padStart(8, "0")}\n`)
        }),
        { numRuns: 60 }
      )
      // Still serving, correctly.
      assert.strictEqual(text(await Effect.runPromise(Client.request(path, "ping"))), "pong")
    }, { threads: 4, requestIdleTimeout: Duration.millis(500) })
    await Effect.runPromise(settled)
  }, 120_000)
})

/** What a hostile server does after answering its bytes. */
type Ending = "close" | "stall"

/**
 * A server that answers every connection with `response` (once the request
 * has arrived) and then closes or stalls.
 */
const hostileServer = (path: string, response: Uint8Array, ending: Ending) =>
  new Promise<net.Server>((resolve) => {
    const sockets = new Set<net.Socket>()
    const server = net.createServer({ allowHalfOpen: true }, (socket) => {
      sockets.add(socket)
      socket.on("error", () => {})
      socket.on("close", () => sockets.delete(socket))
      socket.once("data", () => {
        socket.write(response)
        if (ending === "close") socket.end()
      })
    })
    server.on("close", () => sockets.forEach((s) => s.destroy()))
    server.listen(path, () => resolve(server))
    // Stalled sockets are destroyed when the server is closed.
    const close = server.close.bind(server)
    server.close = (cb) => {
      sockets.forEach((s) => s.destroy())
      return close(cb)
    }
  })

const timeout = Duration.millis(300)

/** The three ways to read a response, each collected into one buffer. */
const readings: ReadonlyArray<readonly [string, (path: string) => Effect.Effect<Uint8Array, Client.RequestError | Client.ConnectError>]> = [
  ["request", (path) => Client.request(path, "ping", { timeout })],
  ["requestStream", (path) =>
    Effect.map(Stream.runCollect(Client.requestStream(path, "ping", { timeout })), PktLine.concat)],
  ["requestForEach", (path) =>
    Effect.suspend(() => {
      const pieces: Array<Uint8Array> = []
      return Effect.map(
        Client.requestForEach(path, "ping", (piece) => Effect.sync(() => pieces.push(piece.slice())), { timeout }),
        () => PktLine.concat(pieces)
      )
    })]
]

describe("hostile servers", () => {
  it("the client ends with the right answer or a typed error, within its timeout, never a defect or a hang", async () => {
    const dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "sipc-hostile-"))
    try {
      let i = 0
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.uint8Array({ maxLength: 100 }),
            fc.array(chunk, { maxLength: 5 }).map(PktLine.concat),
            fc.uint8Array({ maxLength: 3000 }).map((b) => PktLine.encodeMessageBytes(b))
          ),
          fc.constantFrom<Ending>("close", "stall"),
          async (response, ending) => {
            const path = nodePath.join(dir, `s${i++}`)
            const server = await hostileServer(path, response, ending)
            try {
              // What the bytes say, decoded purely: the client must agree,
              // whichever way it reads the response.
              const decoded = await Effect.runPromise(Effect.exit(PktLine.readMessage(Stream.make(response))))
              for (const [way, read] of readings) {
                const started = Date.now()
                const exit = await Effect.runPromise(Effect.exit(read(path)))
                assert.isBelow(Date.now() - started, 3000, way)
                if (Exit.isSuccess(decoded)) {
                  assert.isTrue(Exit.isSuccess(exit), `${way}: expected success for ${Buffer.from(response).toString("hex")}`)
                  if (Exit.isSuccess(exit)) assert.deepStrictEqual(Buffer.from(exit.value), Buffer.from(decoded.value), way)
                } else {
                  assert.isTrue(Exit.isFailure(exit))
                  const error = await Effect.runPromise(Effect.flip(exit as Exit.Exit<never, Client.RequestError | Client.ConnectError>))
                  const decodeError = await Effect.runPromise(Effect.flip(decoded))
                  if (decodeError.reason === "UnexpectedEnd") {
                    // The bytes end early: closed, the client sees the end; stalled, it times out.
                    assert.strictEqual(error._tag, ending === "close" ? "PktLineError" : "RequestTimeoutError", way)
                  } else {
                    assert.strictEqual(error._tag, "PktLineError", way)
                    assert.strictEqual((error as PktLine.PktLineError).reason, decodeError.reason, way)
                  }
                }
              }
            } finally {
              await new Promise((r) => server.close(r))
            }
          }
        ),
        { numRuns: 80 }
      )
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)
})
