/**
 * What a process run as another user needs, where that user can reach it.
 * The checkout may sit in a directory only its owner may enter (a clone in
 * a 0700 temporary directory): another user could run neither the
 * project's Node nor a script from there. So they are linked or copied,
 * once per test file, into a directory of the OS temp dir that everyone
 * may enter, removed after the file's tests.
 */
import { afterAll } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"

let stage: string | undefined

// Registered while the importing test file is collected.
afterAll(() => {
  if (stage !== undefined) fs.rmSync(stage, { recursive: true, force: true })
  stage = undefined
})

const stageDirectory = (): string => {
  if (stage !== undefined) return stage
  const made = fs.mkdtempSync(nodePath.join(os.tmpdir(), "sipc-other-user-"))
  fs.chmodSync(made, 0o755)
  return stage = made
}

/** This process's Node binary, where another user can run it (a hard link where the file system allows, else a copy). */
export const reachableNode = (): string => {
  const target = nodePath.join(stageDirectory(), "node")
  if (!fs.existsSync(target)) {
    try {
      fs.linkSync(process.execPath, target)
    } catch {
      fs.copyFileSync(process.execPath, target)
      fs.chmodSync(target, 0o755)
    }
  }
  return target
}

/** A copy of `source` (a file or a whole directory), where another user can read it. */
export const reachableCopy = (source: string): string => {
  const target = nodePath.join(stageDirectory(), nodePath.basename(source))
  if (!fs.existsSync(target)) fs.cpSync(source, target, { recursive: true })
  return target
}
