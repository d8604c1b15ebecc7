/**
 * One view of a path on both sides: only a socket is a server's address.
 * A symbolic link at the path (even to a live server's socket), a file or a
 * directory is `InvalidPath` for activeState and for every request, and
 * the server refuses to start there; links in the directories above the
 * socket are followed, as for any path.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream, Tracer } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Client from "../../src/client/Client.ts"
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { text } from "../support/bytes.ts"
import { tempDir } from "../support/tempdir.ts"

/** A live server at `<dir>/real.sock`, and `<dir>/link.sock` a symbolic link to it. */
const serverBehindLink = Effect.gen(function*() {
  const dir = yield* tempDir
  const real = nodePath.join(dir, "real.sock")
  const link = nodePath.join(dir, "link.sock")
  yield* Server.make(real, TestApplication.handler)
  fs.symlinkSync(real, link)
  return { dir, real, link }
})

/** Every way the client reaches a path, each ending in the `ConnectError` it failed with. */
const everyWayIn = (
  path: string,
  options?: Client.RequestOptions
): Record<string, Effect.Effect<unknown, Client.ConnectError | Client.RequestError>> => ({
  request: Client.request(path, "ping", options),
  requestStream: Stream.runDrain(Client.requestStream(path, "ping", options)),
  requestForEach: Client.requestForEach(path, "ping", () => Effect.void, options),
  connect: Effect.scoped(Client.connect(path, options))
})

const invalidPathEverywhere = (path: string, options?: Client.RequestOptions) =>
  Effect.gen(function*() {
    assert.strictEqual(yield* Client.activeState(path), "InvalidPath")
    for (const [name, attempt] of Object.entries(everyWayIn(path, options))) {
      const error = yield* Effect.flip(attempt)
      assert.strictEqual(error._tag, "ConnectError", name)
      assert.strictEqual((error as Client.ConnectError).reason, "InvalidPath", name)
    }
  })

describe("a symbolic link at the socket path", () => {
  it.live("is InvalidPath for activeState and for every request, even to a live server, with tracing on or off", () =>
    Effect.gen(function*() {
      const { link, real } = yield* serverBehindLink
      yield* invalidPathEverywhere(link)
      const error = yield* Effect.flip(Client.request(link, "ping"))
      assert.include(error.message, `invalid pipe/socket name '${link}'`)
      assert.include(error.message, "symbolic link")
      // With a tracer installed, a request connects in steps of its own:
      // the same answer.
      const tracer = Tracer.make({ span: (options) => Tracer.nativeTracer.span(options) })
      const traced = yield* Effect.flip(Client.request(link, "ping")).pipe(Effect.withTracer(tracer))
      assert.strictEqual((traced as Client.ConnectError).reason, "InvalidPath")
      // The server behind it is fine, at its own path.
      assert.strictEqual(text(yield* Client.request(real, "ping")), "pong")
    }))

  it.live("is not waited on: waitIfNotFound and waitIfBusy fail at once with InvalidPath", () =>
    Effect.gen(function*() {
      const { link } = yield* serverBehindLink
      yield* invalidPathEverywhere(link, { waitIfNotFound: true, waitIfBusy: true })
    }))

  it.live("that appears while a client waits for the socket ends the wait with InvalidPath", () =>
    Effect.gen(function*() {
      const { dir, real } = yield* serverBehindLink
      const later = nodePath.join(dir, "later.sock")
      // Started at once, the request has made its first attempt (nothing
      // there yet) by the time the link appears: a later attempt sees it.
      const waiting = yield* Effect.forkChild(
        Effect.flip(Client.request(later, "ping", { waitIfNotFound: true, retryFor: "10 seconds" })),
        { startImmediately: true }
      )
      fs.symlinkSync(real, later)
      const error = yield* Fiber.join(waiting)
      assert.strictEqual((error as Client.ConnectError).reason, "InvalidPath")
    }))

  it.live("is refused by the server, which leaves the link and its target alone", () =>
    Effect.gen(function*() {
      const { link, real } = yield* serverBehindLink
      const error = yield* Effect.flip(Effect.scoped(Server.make(link, TestApplication.handler)))
      assert.strictEqual(error._tag, "ListenError")
      assert.strictEqual((error as { reason: string }).reason, "NotASocket")
      assert.include(error.message, "a symbolic link")
      assert.strictEqual(fs.readlinkSync(link), real)
      assert.strictEqual(text(yield* Client.request(real, "ping")), "pong")
    }))
})

describe("the same view of other paths", () => {
  it.live("a regular file or a directory at the path is InvalidPath for every request too", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = nodePath.join(dir, "file")
      fs.writeFileSync(file, "")
      yield* invalidPathEverywhere(file)
      const directory = nodePath.join(dir, "directory")
      fs.mkdirSync(directory)
      yield* invalidPathEverywhere(directory)
      const error = yield* Effect.flip(Client.request(file, "ping"))
      assert.include(error.message, "not a socket (a regular file)")
    }))

  it.live("a symbolic link among the directories above the socket is followed, on both sides", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      fs.mkdirSync(nodePath.join(dir, "real"))
      fs.symlinkSync(nodePath.join(dir, "real"), nodePath.join(dir, "alias"))
      const path = nodePath.join(dir, "alias", "ipc.sock")
      yield* Server.make(path, TestApplication.handler)
      assert.strictEqual(yield* Client.activeState(path), "Listening")
      assert.strictEqual(text(yield* Client.request(path, "ping")), "pong")
      assert.isTrue(fs.lstatSync(nodePath.join(dir, "real", "ipc.sock")).isSocket())
    }))
})
