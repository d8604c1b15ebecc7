/**
 * The `simple-ipc` command line: a drop-in for Git's `test-tool
 * simple-ipc`, with the same subcommands, options (`--name=value`),
 * output and exit codes, built with `effect/cli`.
 *
 * Errors go to standard error as Git prints them (`error: <message>`);
 * an expected failure exits 1 with its message and never a stack trace.
 *
 * @since 0.1.0
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Runtime from "effect/Runtime"
import * as CliConfig from "effect/cli/CliConfig"
import * as CliError from "effect/cli/CliError"
import * as CliOutput from "effect/cli/CliOutput"
import * as Command from "effect/cli/Command"
import * as GlobalFlag from "effect/cli/GlobalFlag"
import * as fs from "node:fs"
import * as os from "node:os"
import * as Daemon from "./Daemon.ts"
import * as Multiple from "./Multiple.ts"
import * as Options from "./Options.ts"
import * as Output from "./Output.ts"
import * as Probe from "./Probe.ts"
import * as Send from "./Send.ts"

const version: string = JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version

/**
 * Expected failures become `effect/cli` user errors, which the runner prints
 * with {@link formatter} (as `error: ` lines) instead of a stack trace. An
 * error that has already been reported (see {@link Multiple.RequestsFailed})
 * only sets the exit code.
 */
const reported = <A, E extends Error, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.mapError(effect, (error) =>
    error[Runtime.errorReported] === false ? error : new CliError.UserError({ cause: error, userMessage: error.message }))

const supports = Command.make("SUPPORTS_SIMPLE_IPC", {}, () => Effect.void).pipe(
  Command.withShortDescription("Exit 0: Simple IPC is supported here"),
  Command.withDescription("Exit 0: Simple IPC is supported here. Takes no options.")
)

/**
 * A subcommand that takes Git's options (those in `shown` listed in its
 * help) and reports expected failures as Git does.
 */
const subcommand = <A, E extends Error, R>(
  name: string,
  shown: ReadonlyArray<keyof Options.Options>,
  run: (options: Options.Options) => Effect.Effect<A, E, R>,
  summary: string,
  description: string
) =>
  Command.make(name, Options.flags(...shown), (options) => reported(run(options))).pipe(
    Command.withShortDescription(summary),
    Command.withDescription(description)
  )

const isActive = subcommand(
  "is-active",
  ["name"],
  (options) => Probe.requireListening(options.name),
  "Is a server listening at --name?",
  "Exit 0 if a server is listening at --name; otherwise say what is there and exit 1."
)

const runDaemon = subcommand(
  "run-daemon",
  ["name", "threads"],
  Daemon.runDaemon,
  "Serve the test application in the foreground",
  "Serve the test application at --name in the foreground until a client sends quit. " +
    "SIGINT or SIGTERM stops it gracefully: responses in flight finish and the socket is removed " +
    "(exit code 130 or 143)."
)

const startDaemon = subcommand(
  "start-daemon",
  ["name", "threads", "maxWait"],
  Daemon.startDaemon,
  "Start run-daemon in the background",
  "Start run-daemon in the background (detached, no output) and wait up to --max-wait seconds until it listens."
)

const stopDaemon = subcommand(
  "stop-daemon",
  ["name", "maxWait"],
  Daemon.stopDaemon,
  "Ask the daemon to quit, and wait",
  "Send quit to the server at --name and wait up to --max-wait seconds until it stops listening."
)

const send = subcommand(
  "send",
  ["name", "token"],
  Send.send,
  "Send --token, print the response",
  "Send --token and write the response's bytes, then a newline if it is not empty."
)

const sendbytes = subcommand(
  "sendbytes",
  ["name", "bytecount", "byte"],
  Send.sendbytes,
  "Send --bytecount copies of --byte",
  "Send 'sendbytes ' and --bytecount copies of --byte; print sent:<byte><bytecount as %08d> <response>."
)

const multiple = subcommand(
  "multiple",
  ["name", "threads", "bytecount", "batchsize"],
  Multiple.multiple,
  "Many concurrent clients sending sendbytes",
  "Run --threads concurrent clients, each sending --batchsize sendbytes requests on new connections; " +
    "print each sent: line and the totals. Exit 1 if any request failed."
)

/**
 * The command tree.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("simple-ipc").pipe(
  Command.withDescription(
    "Git's Simple IPC test tool: run the test server, and talk to it as Git's test suite does. " +
      "Options take the form --name=value and apply to every subcommand."
  ),
  Command.withExamples([
    { command: "simple-ipc start-daemon --threads=8", description: "Start a server at ./ipc-test in the background" },
    { command: "simple-ipc send --token=ping", description: "Prints pong" },
    { command: "simple-ipc multiple --threads=7 --bytecount=19 --batchsize=13", description: "Stress test" },
    { command: "simple-ipc stop-daemon" }
  ]),
  Command.withSubcommands([supports, isActive, runDaemon, startDaemon, stopDaemon, send, sendbytes, multiple])
)

/**
 * `effect/cli`'s formatter, with errors printed as Git prints them.
 *
 * @since 0.1.0
 * @category output
 */
export const formatter = (): CliOutput.Formatter => ({
  ...CliOutput.defaultFormatter(),
  formatError: (error) => Output.errorText(error.message),
  formatErrors: (errors) => errors.map((error) => Output.errorText(error.message)).join("\n")
})

/**
 * Help and version go to standard output; an invalid invocation prints its
 * errors, then the help, on standard error, keeping standard output for
 * responses.
 *
 * @since 0.1.0
 * @category output
 */
export const presenter: CliOutput.Presenter = {
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Effect.gen(function*() {
        const format = yield* CliOutput.Formatter
        yield* Console.error(`${format.formatErrors(event.errors)}\n`)
        yield* Console.error(format.formatHelpDoc(event.helpDoc))
      })
      : CliOutput.defaultPresenter.present(event)
}

/**
 * The command line's own services: Git-style messages, logs on standard
 * error (standard output carries responses), and the built-in flags that
 * make sense for a non-interactive tool.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<never> = Layer.mergeAll(
  CliConfig.layer({ builtIns: [GlobalFlag.Help, GlobalFlag.Version, GlobalFlag.Completions, GlobalFlag.LogLevel] }),
  CliOutput.layer(formatter()),
  CliOutput.layerPresenter(presenter),
  Layer.succeed(Logger.LogToStderr, true)
)

/**
 * Runs the command line on `argv` (the arguments after the program name).
 *
 * @since 0.1.0
 * @category running
 */
export const run = (argv: ReadonlyArray<string>) =>
  Command.runWith(command, { version })(argv).pipe(Effect.provide(layer))

/**
 * The exit status for a run stopped by `signal`: 128 + its number (130 for
 * SIGINT, 143 for SIGTERM), the status a shell reports for Git's tool
 * killed by the same signal.
 *
 * @since 0.1.0
 * @category running
 */
export const signalExitCode = (signal: NodeJS.Signals): number => 128 + (os.constants.signals[signal] ?? 0)
