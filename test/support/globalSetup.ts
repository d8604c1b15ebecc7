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
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" })
}
