/**
 * Builds `dist/` once before the tests, so that tests spawning the
 * command line run the same compiled files a user's install runs.
 */
import { execFileSync } from "node:child_process"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"

export default function setup() {
  const root = fileURLToPath(new URL("../../", import.meta.url))
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
  try {
    execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: root, stdio: "pipe" })
  } catch {
    // Type errors are reported by the type-check that runs before the tests
    // (`npm test`); tsc still emits, so the tests can run and report too.
  }
}
