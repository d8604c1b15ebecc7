/**
 * The smallest useful program: a server and a client in one process.
 *
 * The server answers every request with the request upper-cased; the client
 * sends one request, prints the answer, and the program exits. The server
 * lives in a `Scope`: when the program ends, the scope closes, the server
 * stops gracefully and removes its socket, and the temporary directory
 * holding the socket is removed after it.
 *
 * Run it with:
 *
 *     npm run example:minimal
 *     # or, with a Node that runs TypeScript (22.18 or later):
 *     node examples/minimal.ts
 */
import { NodeRuntime } from "@effect/platform-node"
import { Console, Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { Client, Server } from "effect-simple-ipc"

// A private directory for the socket, so that two runs never collide;
// acquireRelease removes it when the scope closes.
const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(nodePath.join(os.tmpdir(), "simple-ipc-minimal-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

// The application: requests and responses are opaque bytes; this one
// treats them as text and replies once with the upper-cased request.
const upperCase = (request: Uint8Array, reply: Server.Reply) =>
  reply(new TextDecoder().decode(request).toUpperCase())

const program = Effect.gen(function*() {
  const path = nodePath.join(yield* tempDir, "upper.sock")
  // Listening once `make` returns; finalizers run in reverse order, so the
  // server stops (and removes its socket) before the directory goes.
  yield* Server.make(path, upperCase)
  const answer = yield* Client.request(path, "hello, simple ipc")
  yield* Console.log(new TextDecoder().decode(answer))
})

NodeRuntime.runMain(Effect.scoped(program))
