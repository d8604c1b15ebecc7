/**
 * Running a subcommand as the process's main program.
 *
 * SIGINT and SIGTERM interrupt the running subcommand, which stops
 * gracefully (a daemon lets in-flight responses finish and removes its
 * socket); the process then exits with 128 + the signal's number. A second
 * signal while the first is being honoured exits at once.
 *
 * @since 0.2.0
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeStdio from "@effect/platform-node/NodeStdio"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import * as Cli from "./Cli.ts"
import type * as Commands from "./Commands.ts"
import type * as Options from "./Options.ts"

/**
 * Runs the subcommand `invocation` names until it ends, then exits with its
 * status.
 *
 * @since 0.2.0
 * @category running
 */
export const main = (invocation: Extract<Options.Invocation<Commands.Subcommand>, { readonly _tag: "Run" }>): void => {
  let received: NodeJS.Signals | undefined
  const onSignal = (signal: NodeJS.Signals) => {
    if (received !== undefined) process.exit(Cli.signalExitCode(signal))
    received = signal
  }
  process.on("SIGINT", onSignal)
  process.on("SIGTERM", onSignal)

  NodeRuntime.runMain(Cli.runSubcommand(invocation).pipe(Effect.provide(NodeStdio.layer)), {
    teardown: (exit, onExit) =>
      received !== undefined && Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
        ? onExit(Cli.signalExitCode(received))
        : Runtime.defaultTeardown(exit, onExit)
  })
}
