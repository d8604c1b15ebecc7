import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"

/** A fresh directory under the OS temp dir for one test, removed when the test's scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(nodePath.join(os.tmpdir(), "sipc-test-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** A socket path inside a fresh temp dir. */
export const socketPath = (name = "ipc.sock") => Effect.map(tempDir, (dir) => nodePath.join(dir, name))
