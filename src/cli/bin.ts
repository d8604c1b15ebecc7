#!/usr/bin/env node
/**
 * The `simple-ipc` executable.
 *
 * SIGINT and SIGTERM interrupt the running subcommand, which stops
 * gracefully (a daemon lets in-flight responses finish and removes its
 * socket); the process then exits with 128 + the signal's number. A second
 * signal while the first is being honoured exits at once.
 *
 * @since 0.1.0
 */
// Modules by path: the package's index loads its HTTP stack as well, which
// would double the start-up time of every invocation.
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import * as Cli from "./Cli.ts"

let received: NodeJS.Signals | undefined
const onSignal = (signal: NodeJS.Signals) => {
  if (received !== undefined) process.exit(Cli.signalExitCode(signal))
  received = signal
}
process.on("SIGINT", onSignal)
process.on("SIGTERM", onSignal)

NodeRuntime.runMain(Cli.run(process.argv.slice(2)).pipe(Effect.provide(NodeServices.layer)), {
  teardown: (exit, onExit) =>
    received !== undefined && Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
      ? onExit(Cli.signalExitCode(received))
      : Runtime.defaultTeardown(exit, onExit)
})
