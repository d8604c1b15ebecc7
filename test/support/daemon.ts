/**
 * A server process for tests that need one outside the test's own process
 * (to be killed with SIGKILL, say): serves the test application at argv[2].
 */
import * as Server from "../../src/server/Server.ts"
import * as TestApplication from "../../src/testing/TestApplication.ts"
import { runAndExit } from "./runAndExit.ts"

const path = process.argv[2]!

// On SIGUSR2, a full collection (when run with --expose-gc), then the
// process's memory as one line of JSON on stdout.
process.on("SIGUSR2", () => {
  ;(globalThis as { gc?: () => void }).gc?.()
  process.stdout.write(`${JSON.stringify(process.memoryUsage())}\n`)
})
runAndExit(Server.run(path, TestApplication.handler, { threads: Number(process.argv[3] ?? 4) }))
