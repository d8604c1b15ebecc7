/**
 * Where a workspace's socket lives: `SocketPath.forWorkspace` gives a
 * per-user, per-workspace path that is stable, within the kernel's limit
 * however deep the workspace, and never in a directory another user could
 * write in.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import * as Client from "../../src/client/Client.ts"
import * as Server from "../../src/server/Server.ts"
import * as SocketPath from "../../src/transport/SocketPath.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { text } from "../support/bytes.ts"
import { tempDir } from "../support/tempdir.ts"

/** Another user (the suite runs as root, which may give files to anyone). */
const OTHER_UID = 65534

const uid = process.getuid!()

/** A workspace root of exactly `length` characters under `base` (made, with its parents). */
const rootOfLength = (base: string, length: number): string => {
  let root = base
  while (root.length < length) {
    const left = length - root.length - 1
    root = nodePath.join(root, "w".repeat(Math.min(left, 40)))
  }
  fs.mkdirSync(root, { recursive: true })
  return root
}

describe("SocketPath.forWorkspace", () => {
  it.effect("workspaces of 40 to 300 characters get stable, distinct socket paths within the kernel's limit", () =>
    Effect.gen(function*() {
      const tmp = yield* tempDir
      const workspaces = yield* tempDir
      const options = { name: "tool", env: {}, tmpDir: tmp }
      const seen = new Set<string>()
      for (let length = 40; length <= 300; length += 13) {
        const root = rootOfLength(nodePath.join(workspaces, `l${length}`), length)
        assert.strictEqual(root.length, length)
        const path = yield* SocketPath.forWorkspace(root, options)
        assert.isAtMost(Buffer.byteLength(path), SocketPath.MAX_SOCKET_PATH_BYTES, path)
        assert.strictEqual(nodePath.dirname(path), nodePath.join(tmp, `tool-${uid}`))
        // The same workspace, again and spelt otherwise: the same socket.
        assert.strictEqual(yield* SocketPath.forWorkspace(root, options), path)
        assert.strictEqual(yield* SocketPath.forWorkspace(`${root}/./`, options), path)
        seen.add(path)
      }
      assert.strictEqual(seen.size, 21, "one socket per workspace")
      const directory = fs.lstatSync(nodePath.join(tmp, `tool-${uid}`))
      assert.strictEqual(directory.mode & 0o777, 0o700)
    }))

  it.effect("a workspace reached through a symbolic link has the socket of its real path", () =>
    Effect.gen(function*() {
      const tmp = yield* tempDir
      const workspaces = yield* tempDir
      const real = nodePath.join(workspaces, "project")
      fs.mkdirSync(real)
      fs.symlinkSync(real, nodePath.join(workspaces, "link"))
      const options = { name: "tool", env: {}, tmpDir: tmp }
      assert.strictEqual(
        yield* SocketPath.forWorkspace(nodePath.join(workspaces, "link"), options),
        yield* SocketPath.forWorkspace(real, options)
      )
      assert.match(nodePath.basename(yield* SocketPath.forWorkspace(real, options)), /^project-[0-9a-f]{20}\.sock$/)
    }))

  it.effect("with XDG_RUNTIME_DIR, the socket lives there (a relative value is ignored)", () =>
    Effect.gen(function*() {
      const runtime = yield* tempDir
      const tmp = yield* tempDir
      const path = yield* SocketPath.forWorkspace("/some/project", { name: "tool", env: { XDG_RUNTIME_DIR: runtime }, tmpDir: tmp })
      assert.strictEqual(nodePath.dirname(path), nodePath.join(runtime, "tool"))
      const ignored = yield* SocketPath.forWorkspace("/some/project", { name: "tool", env: { XDG_RUNTIME_DIR: "run/user" }, tmpDir: tmp })
      assert.strictEqual(nodePath.dirname(ignored), nodePath.join(tmp, `tool-${uid}`))
    }))

  it.live("a server listens at a deep workspace's socket and a client reaches it", () =>
    Effect.gen(function*() {
      const tmp = yield* tempDir
      const workspaces = yield* tempDir
      const root = rootOfLength(workspaces, 300)
      const path = yield* SocketPath.forWorkspace(root, { name: "tool", env: {}, tmpDir: tmp })
      yield* Server.make(path, TestApplication.handler)
      assert.strictEqual(text(yield* Client.request(path, "ping")), "pong")
    }))

  it.effect("a pre-created directory another user owns, or one group or others may write in, is refused", () =>
    Effect.gen(function*() {
      const tmp = yield* tempDir
      const options = { name: "tool", env: {}, tmpDir: tmp }
      const directory = nodePath.join(tmp, `tool-${uid}`)

      // Another user's, made before ours (as anyone may in /tmp).
      fs.mkdirSync(directory, { mode: 0o700 })
      fs.chownSync(directory, OTHER_UID, OTHER_UID)
      const theirs = yield* Effect.flip(SocketPath.forWorkspace("/some/project", options))
      assert.strictEqual(theirs.reason, "OtherUser")
      assert.strictEqual(theirs.path, directory)
      assert.include(theirs.message, `'${directory}'`)
      assert.include(theirs.message, `another user (uid ${OTHER_UID})`)

      // Ours, but writable by others.
      fs.chownSync(directory, uid, uid)
      fs.chmodSync(directory, 0o777)
      const open = yield* Effect.flip(SocketPath.forWorkspace("/some/project", options))
      assert.strictEqual(open.reason, "Writable")
      assert.include(open.message, "mode 777")
      fs.chmodSync(directory, 0o770)
      assert.strictEqual((yield* Effect.flip(SocketPath.forWorkspace("/some/project", options))).reason, "Writable")
      // Nothing was changed behind the user's back.
      assert.strictEqual(fs.lstatSync(directory).mode & 0o777, 0o770)

      // A symbolic link in its place, even to a good directory.
      fs.rmSync(directory, { recursive: true })
      const elsewhere = yield* tempDir
      fs.chmodSync(elsewhere, 0o700)
      fs.symlinkSync(elsewhere, directory)
      const link = yield* Effect.flip(SocketPath.forWorkspace("/some/project", options))
      assert.strictEqual(link.reason, "NotADirectory")
      assert.include(link.message, "a symbolic link")

      // Once it is removed, it is made afresh, private.
      fs.rmSync(directory)
      yield* SocketPath.forWorkspace("/some/project", options)
      assert.strictEqual(fs.lstatSync(directory).mode & 0o777, 0o700)
    }))

  it.effect("a name that is not a plain file name is refused", () =>
    Effect.gen(function*() {
      const tmp = yield* tempDir
      for (const name of ["", "..", "a/b", "x".repeat(65)]) {
        const error = yield* Effect.flip(SocketPath.forWorkspace("/some/project", { name, env: {}, tmpDir: tmp }))
        assert.strictEqual(error.reason, "InvalidName", name)
      }
      assert.deepStrictEqual(fs.readdirSync(tmp), [])
    }))
})
