/**
 * Builds `dist/` once before the tests (the library with tsc, the command
 * line bundled), so that tests spawning the command line run the same
 * files a user's install runs.
 */
import * as build from "../../scripts/build.ts"

export default async function setup() {
  try {
    build.library()
  } catch {
    // Type errors are reported by the type-check that runs before the tests
    // (`npm test`); tsc still emits, so the tests can run and report too.
  }
  await build.commandLine()
}
