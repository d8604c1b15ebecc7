/**
 * The `simple-ipc` command line: a drop-in for Git's `test-tool
 * simple-ipc`, with the same subcommands, options (`--name=value`),
 * output and exit codes.
 *
 * Errors go to standard error as Git prints them (`error: <message>`);
 * an expected failure exits 1 with its message and never a stack trace.
 *
 * The server's code, and `multiple`'s, is loaded only when it runs, so
 * that a one-shot client does not pay for it.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as Runtime from "effect/Runtime"
import type * as Stdio from "effect/Stdio"
import * as os from "node:os"
import * as Commands from "./Commands.ts"
import * as Options from "./Options.ts"
import * as Output from "./Output.ts"
import * as Probe from "./Probe.ts"
import * as Send from "./Send.ts"

type Runner = (options: Options.Options, action: string | undefined) => Effect.Effect<void, Error, Stdio.Stdio>

/** A subcommand whose code is in the module `load` imports, loaded when it runs. */
const lazy = <M,>(
  load: () => Promise<M>,
  run: (module: M, options: Options.Options, action: string | undefined) => ReturnType<Runner>
): Runner =>
(options, action) => Effect.flatMap(Effect.promise(load), (module) => run(module, options, action))

const daemon = () => import("./Daemon.ts")

const runners: { readonly [K in Commands.Name]: Runner } = {
  "SUPPORTS_SIMPLE_IPC": () => Effect.void,
  "is-active": (options) => Probe.requireListening(options.name),
  "run-daemon": lazy(daemon, (Daemon, options) => Daemon.runDaemon(options)),
  "start-daemon": lazy(daemon, (Daemon, options) => Daemon.startDaemon(options)),
  "stop-daemon": lazy(daemon, (Daemon, options) => Daemon.stopDaemon(options)),
  // The one-shot requests, the commonest use, are loaded with this module:
  // one step less before their request goes out.
  "send": Send.send,
  "sendbytes": Send.sendbytes,
  "status": lazy(() => import("./Status.ts"), (Status, options) => Status.status(options)),
  "multiple": lazy(() => import("./Multiple.ts"), (Multiple, options) => Multiple.multiple(options)),
  "fsmonitor": lazy(() => import("./Fsmonitor.ts"), (Fsmonitor, options, action) => Fsmonitor.fsmonitor(options, action))
}

/**
 * The command line was not used as it takes: an unknown subcommand or
 * option, a value an option cannot take. The errors and the help have been
 * printed on standard error; this only sets the exit code (1).
 *
 * @since 0.2.0
 * @category errors
 */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly errors: ReadonlyArray<string>
}> {
  override readonly [Runtime.errorReported] = false
  override get message(): string {
    return this.errors.join("\n")
  }
}

/**
 * A subcommand failed, and its error has been printed on standard error as
 * Git prints it (or needed no message); this only carries the exit code on:
 * the error's own (141 for a reader of standard output that went away), or
 * 1.
 *
 * @since 0.2.0
 * @category errors
 */
export class Reported extends Data.TaggedError("Reported")<{
  readonly error: Error
}> {
  override readonly [Runtime.errorReported] = false
  override get [Runtime.errorExitCode](): number {
    return this.error[Runtime.errorExitCode] ?? 1
  }
  override get message(): string {
    return this.error.message
  }
}

/** Prints an expected failure, unless it says it has been reported already. */
const report = (error: Error) =>
  Effect.andThen(
    error[Runtime.errorReported] === false ? Effect.void : Effect.ignore(Output.stderr(`${Commands.errorText(error.message)}\n`)),
    Effect.fail(new Reported({ error }))
  )

/**
 * Runs a subcommand, with logs on standard error (standard output carries
 * responses) at the level `--log-level` asked for.
 *
 * @since 0.2.0
 * @category running
 */
export const runSubcommand = (
  invocation: Extract<Options.Invocation<Commands.Subcommand>, { readonly _tag: "Run" }>
): Effect.Effect<void, Reported, Stdio.Stdio> => {
  const ran = Effect.catch(runners[invocation.subcommand.name](invocation.options, invocation.action), report).pipe(
    Effect.provideService(Logger.LogToStderr, true)
  )
  return invocation.logLevel === undefined ? ran : Effect.provideService(ran, References.MinimumLogLevel, invocation.logLevel)
}

/**
 * Runs the command line on `argv` (the arguments after the program name).
 *
 * @since 0.1.0
 * @category running
 */
export const run = (argv: ReadonlyArray<string>): Effect.Effect<void, UsageError | Reported, Stdio.Stdio> =>
  Effect.suspend((): Effect.Effect<void, UsageError | Reported, Stdio.Stdio> => {
    const invocation = Options.parse(argv, Commands.subcommands)
    if (invocation._tag === "Run") return runSubcommand(invocation)
    const answer = Commands.answer(invocation)
    if (answer.exitCode === 0) return Effect.catch(Output.stdout(answer.text), report)
    return Effect.andThen(
      Effect.ignore(Output.stderr(answer.text)),
      Effect.fail(new UsageError({ errors: invocation._tag === "Invalid" ? invocation.errors : [] }))
    )
  })

/**
 * The exit status for a run stopped by `signal`: 128 + its number (130 for
 * SIGINT, 143 for SIGTERM), the status a shell reports for Git's tool
 * killed by the same signal.
 *
 * @since 0.1.0
 * @category running
 */
export const signalExitCode = (signal: NodeJS.Signals): number => 128 + (os.constants.signals[signal] ?? 0)
