/**
 * The command line's subcommands as the parser and the help know them,
 * and the answers that need no subcommand to run: help, the version, and
 * an invocation that is not valid. Plain code with no Effect in it, so
 * that these are answered before anything else is loaded.
 *
 * @since 0.2.0
 */
import * as fs from "node:fs"
import * as Help from "./Help.ts"
import type * as Options from "./Options.ts"

/**
 * The subcommands, in the order the help lists them.
 *
 * @since 0.2.0
 * @category commands
 */
export const subcommands = [
  {
    name: "SUPPORTS_SIMPLE_IPC",
    takesOptions: false,
    shown: [],
    summary: "Exit 0: Simple IPC is supported here",
    description: "Exit 0: Simple IPC is supported here. Takes no options."
  },
  {
    name: "is-active",
    takesOptions: true,
    shown: ["name"],
    summary: "Is a server listening at --name?",
    description: "Exit 0 if a server is listening at --name; otherwise say what is there and exit 1."
  },
  {
    name: "run-daemon",
    takesOptions: true,
    shown: ["name", "threads", "idleShutdown"],
    summary: "Serve the test application in the foreground",
    description: "Serve the test application at --name in the foreground until a client sends quit. " +
      "SIGINT or SIGTERM stops it gracefully: responses in flight finish and the socket is removed " +
      "(exit code 130 or 143). With --idle-shutdown, it also stops by itself once no request has come " +
      "for that many seconds (exit code 0, socket removed); probes such as is-active are not requests."
  },
  {
    name: "start-daemon",
    takesOptions: true,
    shown: ["name", "threads", "maxWait", "idleShutdown"],
    summary: "Start run-daemon in the background",
    description:
      "Start run-daemon in the background (detached, no output) and wait up to --max-wait seconds until it listens. " +
      "--idle-shutdown is passed on to it."
  },
  {
    name: "stop-daemon",
    takesOptions: true,
    shown: ["name", "maxWait"],
    summary: "Ask the daemon to quit, and wait",
    description: "Send quit to the server at --name and wait up to --max-wait seconds until it stops listening."
  },
  {
    name: "send",
    takesOptions: true,
    shown: ["name", "token"],
    summary: "Send --token, print the response",
    description: "Send --token and write the response's bytes, then a newline if it is not empty."
  },
  {
    name: "sendbytes",
    takesOptions: true,
    shown: ["name", "bytecount", "byte"],
    summary: "Send --bytecount copies of --byte",
    description:
      "Send 'sendbytes ' and --bytecount copies of --byte; print sent:<byte><bytecount as %08d> <response>."
  },
  {
    name: "multiple",
    takesOptions: true,
    shown: ["name", "threads", "bytecount", "batchsize"],
    summary: "Many concurrent clients sending sendbytes",
    description: "Run --threads concurrent clients, each sending --batchsize sendbytes requests on new connections; " +
      "print each sent: line and the totals. Exit 1 if any request failed."
  },
  {
    name: "status",
    takesOptions: true,
    shown: ["name", "json"],
    summary: "What the server at --name says about itself",
    description: "Ask the server at --name for its status and print it: identity, pid, socket, uptime, connections " +
      "(open, reading, queued, running), counters (accepted, served, dropped by reason, bytes in and out) and log file. " +
      "--json prints the status as one line of JSON instead. The server must have been started with the status option " +
      "(run-daemon and start-daemon do)."
  },
  {
    name: "fsmonitor",
    takesOptions: true,
    actions: ["query", "flush", "stop"],
    shown: ["worktree", "token", "json", "maxWait"],
    summary: "Ask Git's fsmonitor daemon what changed (query, flush, stop)",
    description: "Talk to the fsmonitor daemon of --worktree (at <git-dir>/fsmonitor--daemon.ipc, found as Git finds it). " +
      "query: ask what changed since --token (default: a token no daemon vouches for, which gets the current token) " +
      "and print the new token, then one changed path per line, or / when everything may have changed. " +
      "flush: make the daemon start a new token, and print it. stop: send quit and wait up to --max-wait seconds " +
      "until the daemon no longer listens. --json prints {token, trivial, paths} instead."
  }
] as const satisfies ReadonlyArray<Help.Described>

/**
 * A subcommand of the tool.
 *
 * @since 0.2.0
 * @category models
 */
export type Subcommand = typeof subcommands[number]

/**
 * The name of a subcommand.
 *
 * @since 0.2.0
 * @category models
 */
export type Name = Subcommand["name"]

/**
 * The tool, as its help describes it.
 *
 * @since 0.2.0
 * @category commands
 */
export const tool: Help.Tool<Subcommand> = {
  description: "Git's Simple IPC test tool: run the test server, and talk to it as Git's test suite does. " +
    "Options take the form --name=value and apply to every subcommand.",
  subcommands,
  examples: [
    { command: "simple-ipc start-daemon --threads=8", description: "Start a server at ./ipc-test in the background" },
    { command: "simple-ipc send --token=ping", description: "Prints pong" },
    { command: "simple-ipc multiple --threads=7 --bytecount=19 --batchsize=13", description: "Stress test" },
    { command: "simple-ipc status --json", description: "The server's identity, load and counters" },
    { command: "simple-ipc stop-daemon" },
    { command: "simple-ipc fsmonitor query --token=builtin:0.1234.20260101T000000.000000Z:3", description: "What changed since a token" }
  ]
}

/**
 * What to print, where, and the exit code, for an invocation that runs no
 * subcommand.
 *
 * @since 0.2.0
 * @category models
 */
export interface Answer {
  readonly stream: "stdout" | "stderr"
  readonly text: string
  readonly exitCode: 0 | 1
}

/**
 * This package's version.
 *
 * @since 0.2.0
 * @category commands
 */
export const version = (): string =>
  JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version

/**
 * A message as Git prints errors: every line prefixed `error: `, without a
 * final newline.
 *
 * @since 0.2.0
 * @category formatting
 */
export const errorText = (message: string): string =>
  message.split("\n").map((line) => `error: ${line}`).join("\n")

/**
 * The answer to help, the version, or an invalid invocation: help and the
 * version go to standard output; an invalid invocation's errors, then the
 * help, go to standard error (which keeps standard output for responses)
 * and exit 1.
 *
 * @since 0.2.0
 * @category commands
 */
export const answer = (invocation: Exclude<Options.Invocation<Subcommand>, { readonly _tag: "Run" }>): Answer => {
  switch (invocation._tag) {
    case "Help":
      return { stream: "stdout", text: Help.render(tool, invocation.subcommand), exitCode: 0 }
    case "Version":
      return { stream: "stdout", text: `simple-ipc v${version()}\n`, exitCode: 0 }
    case "Invalid":
      return {
        stream: "stderr",
        text: `${errorText(invocation.errors.join("\n"))}\n\n${Help.render(tool, invocation.subcommand)}`,
        exitCode: 1
      }
  }
}
