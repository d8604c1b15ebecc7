#!/usr/bin/env node
/**
 * The `simple-ipc` executable.
 *
 * Help, the version and an invalid invocation are answered at once, with
 * nothing else loaded; a subcommand's code is loaded when it runs. The
 * published command is this file bundled, with everything it imports
 * (`effect` included), into a few files beside it: it starts about as fast
 * as Node itself and needs no package beside it.
 *
 * @since 0.1.0
 */
import * as module from "node:module"
import * as Commands from "./Commands.ts"
import * as Options from "./Options.ts"

// Compiled code is kept on disk for the next start (Node 22.1 and later).
// Enabled before the subcommand's code is loaded, so that code is cached.
module.enableCompileCache?.()

const invocation = Options.parse(process.argv.slice(2), Commands.subcommands)
if (invocation._tag === "Run") {
  const Main = await import("./Main.ts")
  Main.main(invocation)
} else {
  const answer = Commands.answer(invocation)
  process[answer.stream].write(answer.text)
  process.exitCode = answer.exitCode
}
