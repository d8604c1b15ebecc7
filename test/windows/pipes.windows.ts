/**
 * The library over real Windows named pipes: a server listening on the
 * pipe a path maps to, clients of every kind, the refusals and errors
 * Windows has its own way of giving. Run by `npm run test:windows`.
 */
import { Client, type Connection, Listener, Server, SimpleIpcRpc, SocketPath } from "effect-simple-ipc"
import { Deferred, Duration, Effect, Exit, Fiber, Layer, Schema } from "effect"
import { Rpc, RpcClient, RpcGroup, RpcServer } from "effect/rpc"
import * as assert from "node:assert/strict"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { test } from "node:test"
import { waitUntil } from "../support/raw.ts"
import { listeningAt, pipePath, run, spawnScript, tempDir } from "./support.ts"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** Answers `ping` with `pong`, anything else with itself. */
const echo: Server.Handler<Connection.TransportError> = (request, reply) => reply(text(request) === "ping" ? "pong" : request)

const MiB = 1024 * 1024

test("ping: a request and its answer over the path's named pipe, with no file made beside the path", () =>
  run(Effect.gen(function*() {
    const path = yield* pipePath()
    yield* Server.make(path, echo)
    assert.equal(yield* Client.activeState(path), "Listening")
    assert.equal(text(yield* Client.request(path, "ping")), "pong")
    // No socket file, lock file or private directory: a pipe name is no file.
    assert.deepEqual(fs.readdirSync(nodePath.dirname(path)), [])
  })))

test("a mode with bits for others, which opens the pipe to every user, is accepted: the server starts and answers", () =>
  run(Effect.gen(function*() {
    // Who may connect is not checked here: under Wine every process is the same user.
    const path = yield* pipePath()
    yield* Server.make(path, echo, { mode: 0o666 })
    assert.equal(text(yield* Client.request(path, "ping")), "pong")
  })))

test("a second server on the same name fails with AddressInUse, and the first goes on serving", () =>
  run(Effect.gen(function*() {
    const path = yield* pipePath()
    yield* Server.make(path, echo)
    const error = yield* Effect.flip(Effect.scoped(Server.make(path, echo)))
    assert.ok(error instanceof Listener.ListenError, String(error))
    assert.equal(error.reason, "AddressInUse")
    assert.equal(error.message, `socket/pipe already in use: '${path}'`)
    assert.equal(text(yield* Client.request(path, "ping")), "pong")
  })))

test("a large response streams: 64 MiB in 1 MiB replies, read piece by piece", () =>
  run(Effect.gen(function*() {
    const path = yield* pipePath()
    const block = (i: number) => Buffer.alloc(MiB, i % 251)
    yield* Server.make(path, (_request, reply) =>
      Effect.forEach(Array.from({ length: 64 }, (_, i) => i), (i) => reply(block(i)), { discard: true }))
    const expected = createHash("sha256")
    for (let i = 0; i < 64; i++) expected.update(block(i))
    const received = createHash("sha256")
    let bytes = 0
    yield* Client.requestForEach(path, "big", (piece) =>
      Effect.sync(() => {
        bytes += piece.length
        received.update(piece)
      }))
    assert.equal(bytes, 64 * MiB)
    assert.equal(received.digest("hex"), expected.digest("hex"))
  })))

test("a 50 MB request arrives whole", () =>
  run(Effect.gen(function*() {
    const path = yield* pipePath()
    yield* Server.make(path, (request, reply) => reply(`${request.length} ${sha256(request)}`))
    const request = Buffer.alloc(50_000_000)
    for (let i = 0; i < request.length; i += 4096) request[i] = (i / 4096) % 256
    const answer = text(yield* Client.request(path, request))
    assert.equal(answer, `${request.length} ${sha256(request)}`)
  })))

test("8 concurrent clients, 100 requests each, every answer its own", () =>
  run(Effect.gen(function*() {
    const path = yield* pipePath()
    let served = 0
    yield* Server.make(path, (request, reply) =>
      Effect.andThen(Effect.sync(() => served++), reply(`answer to ${text(request)}`)))
    const answers = yield* Effect.forEach(
      Array.from({ length: 8 }, (_, client) => client),
      (client) =>
        Effect.forEach(Array.from({ length: 100 }, (_, i) => i), (i) =>
          Effect.map(Client.request(path, `${client}/${i}`, { waitIfBusy: true }), (answer) => [`${client}/${i}`, text(answer)] as const)),
      { concurrency: "unbounded" }
    )
    const all = answers.flat()
    assert.equal(all.length, 800)
    for (const [request, answer] of all) assert.equal(answer, `answer to ${request}`)
    assert.equal(served, 800)
  })))

class Greeter extends RpcGroup.make(Rpc.make("greet", { payload: { name: Schema.String }, success: Schema.String })) {}

test("a typed call: an effect/rpc group served and called over the pipe, its answer", () =>
  run(Effect.gen(function*() {
    const path = yield* pipePath()
    yield* Layer.build(
      RpcServer.layer(Greeter).pipe(
        Layer.provide(Greeter.toLayer({ greet: ({ name }) => Effect.succeed(`hello, ${name}`) })),
        Layer.provide(SimpleIpcRpc.layerProtocolServer(path))
      )
    )
    const greeter = yield* RpcClient.make(Greeter).pipe(
      Effect.provide(SimpleIpcRpc.layerProtocolClient(path, { group: Greeter }))
    )
    assert.equal(yield* greeter.greet({ name: "pipe" }), "hello, pipe")
    // The wire stays plain: the same call as bytes.
    assert.equal(text(yield* Client.request(path, `greet {"name":"bytes"}`)), `"hello, bytes"`)
  })))

test("shutdown lets in-flight responses finish, then the pipe is gone", () =>
  run(Effect.gen(function*() {
    const path = yield* pipePath()
    const gate = yield* Deferred.make<void>()
    const allIn = yield* Deferred.make<void>()
    let entered = 0
    const server = yield* Server.make(path, (_request, reply) =>
      Effect.gen(function*() {
        yield* reply("begun ")
        if (++entered === 3) yield* Deferred.succeed(allIn, undefined)
        yield* Deferred.await(gate)
        yield* reply("and ended")
      }), { threads: 3, requestTimeout: "60 seconds" })
    // A client that has sent nothing when the stop comes is dropped by it:
    // its end shows that the stop has begun.
    const idle = yield* Client.connect(path)
    const idleEnd = yield* Effect.forkChild(Effect.exit(idle.readMessage()))
    const inFlight = yield* Effect.forkChild(Effect.forEach([1, 2, 3], () => Client.request(path, "work"), { concurrency: 3 }))
    yield* Deferred.await(allIn)
    yield* server.stop
    assert.ok(Exit.isFailure(yield* Fiber.join(idleEnd)), "the idle client was dropped by the stop")
    yield* Deferred.succeed(gate, undefined)
    const answers = yield* Fiber.join(inFlight)
    assert.deepEqual(answers.map(text), ["begun and ended", "begun and ended", "begun and ended"])
    yield* server.join
    assert.equal(yield* Client.activeState(path), "PathNotFound")
  })))

test("a name is free again as soon as its server has stopped: nothing stale is left to clear", () =>
  run(Effect.gen(function*() {
    const path = yield* pipePath()
    yield* Effect.scoped(Effect.andThen(Server.make(path, echo), Client.request(path, "ping")))
    assert.equal(yield* Client.activeState(path), "PathNotFound")
    yield* Server.make(path, (_request, reply) => reply("the second server"))
    assert.equal(text(yield* Client.request(path, "ping")), "the second server")
  })))

test("a missing pipe: PathNotFound at once, NotListening after waiting for it", () =>
  run(Effect.gen(function*() {
    const path = yield* pipePath()
    assert.equal(yield* Client.activeState(path), "PathNotFound")
    const error = yield* Effect.flip(Client.request(path, "ping"))
    assert.ok(error instanceof Client.ConnectError, String(error))
    assert.equal(error.reason, "PathNotFound")
    assert.equal(error.errno, "ENOENT")
    assert.equal(error.message, `path not found '${path}'`)
    const waited = yield* Effect.flip(Client.request(path, "ping", { waitIfNotFound: true, retryFor: "200 millis" }))
    assert.ok(waited instanceof Client.ConnectError, String(waited))
    assert.equal(waited.reason, "NotListening")
  })))

test("a path whose pipe name is longer than Windows allows fails with a typed error; the longest allowed works", () =>
  run(Effect.gen(function*() {
    const base = yield* tempDir
    const pad = (chars: number) => nodePath.join(base, "x".repeat(chars - SocketPath.windowsPipeName(nodePath.join(base, "x")).length + 1))
    const longest = pad(SocketPath.MAX_PIPE_NAME_CHARS)
    const tooLong = pad(SocketPath.MAX_PIPE_NAME_CHARS + 1)
    assert.equal(SocketPath.windowsPipeName(longest).length, SocketPath.MAX_PIPE_NAME_CHARS)

    yield* Server.make(longest, echo)
    assert.equal(text(yield* Client.request(longest, "ping")), "pong")

    const refused = yield* Effect.flip(Effect.scoped(Server.make(tooLong, echo)))
    assert.ok(refused instanceof SocketPath.SocketPathError, String(refused))
    assert.equal(refused.reason, "NameTooLong")
    assert.match(refused.message, /named pipe name .* is too long \(257 characters, Windows allows 256\)/)
    const error = yield* Effect.flip(Client.request(tooLong, "ping"))
    assert.ok(error instanceof Client.ConnectError, String(error))
    assert.equal(error.reason, "InvalidPath")
    assert.equal(yield* Client.activeState(tooLong), "InvalidPath")
  })))

// Node keeps a few pipe instances waiting; with the server's loop stopped,
// none is re-armed, and the clients beyond them find the pipe busy. Node
// then waits for a free instance itself (up to 30 s, as Git's client does
// with WaitNamedPipe), so a plain request, with no option to wait, is
// answered once the server moves again.
test("a busy pipe: clients that find every instance taken wait for one and are answered", () =>
  run(Effect.gen(function*() {
    const directory = yield* tempDir
    const path = nodePath.join(directory, "busy")
    const marker = nodePath.join(directory, "blocked")
    const server = yield* spawnScript("blockingServer.ts", path)
    yield* listeningAt(path)
    // The server's event loop stops for 3 s: it accepts nothing meanwhile.
    const blocked = yield* Effect.forkChild(Client.request(path, `block 3000 ${marker}`))
    yield* waitUntil(Effect.sync(() => fs.existsSync(marker)), Duration.seconds(30))
    const answers = yield* Effect.forEach(
      Array.from({ length: 8 }, (_, i) => i),
      () => Client.request(path, "ping"),
      { concurrency: "unbounded" }
    )
    assert.deepEqual(answers.map(text), Array(8).fill("pong"))
    assert.equal(text(yield* Fiber.join(blocked)), "unblocked")
    yield* Client.request(path, "quit")
    assert.equal((yield* server.exit).code, 0)
  })))
