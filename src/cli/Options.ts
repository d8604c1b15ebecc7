/**
 * The command line's grammar: Git's options with Git's defaults and
 * clamping, the built-in flags, and the parsing of an argument vector.
 *
 * Git parses every option for every subcommand, so every subcommand here
 * accepts all of them too (a script passing one that a subcommand ignores
 * keeps working); each subcommand's help lists only the ones it uses.
 *
 * This module is plain code with no Effect in it: `--help`, `--version` and
 * a mistyped invocation are answered before anything else is loaded.
 *
 * @since 0.1.0
 */

/**
 * The parsed options, after defaults and clamping.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Socket path (Git's `--name`), relative to the working directory unless absolute. */
  readonly name: string
  /** Server workers, or concurrent clients for `multiple`; at least 1. */
  readonly threads: number
  /** Seconds to wait for a daemon to start or stop; at least 0. */
  readonly maxWait: number
  /** Seconds without a request after which `run-daemon` stops by itself; 0: never. */
  readonly idleShutdown: number
  /** Ballast bytes per request; at least 1. */
  readonly bytecount: number
  /** Requests per client in `multiple`; at least 1. */
  readonly batchsize: number
  /** The ballast byte: the first byte of `--byte`. */
  readonly byte: number
  /** The request `send` sends; the token `fsmonitor query` asks with. */
  readonly token: string
  /** The worktree whose fsmonitor daemon `fsmonitor` talks to. */
  readonly worktree: string
  /** Print `fsmonitor`'s answer as JSON. */
  readonly json: boolean
}

/**
 * What `send` sends when `--token` is missing or empty, as Git's tool does.
 *
 * @since 0.1.0
 * @category constants
 */
export const NO_COMMAND = "(no-command)"

/**
 * The levels `--log-level` accepts, by the name it is given on the command
 * line.
 *
 * @since 0.2.0
 * @category constants
 */
export const logLevels = {
  all: "All",
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  warning: "Warn",
  error: "Error",
  fatal: "Fatal",
  none: "None"
} as const

/**
 * A level `--log-level` accepts.
 *
 * @since 0.2.0
 * @category models
 */
export type LogLevel = typeof logLevels[keyof typeof logLevels]

/**
 * One of Git's options: its flag, its help line, and how its value is read.
 * `parse` answers the value or, for a value it cannot take, what it
 * expected.
 *
 * @since 0.2.0
 * @category models
 */
export interface Spec<A> {
  readonly flag: string
  /**
   * How the value is shown in the help: `string` or `integer`; a `flag`
   * takes no value (`--json`), though `--json=false` is accepted.
   */
  readonly kind: "string" | "integer" | "flag"
  readonly description: string
  readonly fallback: A
  readonly parse: (value: string) => { readonly ok: true; readonly value: A } | { readonly ok: false; readonly expected: string }
}

const ok = <A>(value: A) => ({ ok: true, value }) as const

/** Git's integers: an optional sign and decimal digits. */
const INTEGER = /^[+-]?\d+$/

/**
 * An integer option with Git's default, where a value below `min` counts as
 * `min`; `unit` (seconds, for the durations) is named to whoever mistypes it.
 */
const clampedInt = (flag: string, description: string, fallback: number, min: number, unit?: string): Spec<number> => ({
  flag,
  kind: "integer",
  description: `${description} (default: ${fallback}; below ${min} means ${min})`,
  fallback,
  parse: (value) =>
    INTEGER.test(value) && Number.isSafeInteger(Number(value))
      ? ok(Math.max(min, Number(value)))
      : { ok: false, expected: unit === undefined ? "an integer" : `an integer (${unit})` }
})

/**
 * Every option, by the field of {@link Options} it sets.
 *
 * @since 0.2.0
 * @category options
 */
export const specs: { readonly [K in keyof Options]: Spec<Options[K]> } = {
  name: {
    flag: "name",
    kind: "string",
    description: "socket path of the server (default: ipc-test, in the working directory)",
    fallback: "ipc-test",
    // An empty path names no socket; Git's tool would report it as a
    // server that is not there, which sends the user looking for one.
    parse: (value) => value === "" ? { ok: false, expected: "a socket path, not an empty string" } : ok(value)
  },
  threads: clampedInt("threads", "server workers, or concurrent clients for multiple", 5, 1),
  maxWait: clampedInt("max-wait", "seconds to wait for the daemon to start or stop", 60, 0, "seconds"),
  // Written in seconds, as --max-wait is: the command line's one way of
  // giving a time.
  idleShutdown: clampedInt(
    "idle-shutdown",
    "seconds without a request after which the daemon stops by itself and removes its socket; 0: never",
    0,
    0,
    "seconds"
  ),
  bytecount: clampedInt("bytecount", "ballast bytes per request", 1024, 1),
  batchsize: clampedInt("batchsize", "requests per client", 10, 1),
  byte: {
    flag: "byte",
    kind: "string",
    description: "ballast byte: the first byte of the value (default: x)",
    fallback: "x".charCodeAt(0),
    // Git takes the first byte; an empty value keeps the default.
    parse: (value) => ok(Buffer.from(value, "utf8")[0] ?? "x".charCodeAt(0))
  },
  token: {
    flag: "token",
    kind: "string",
    description: `request to send (default: ${NO_COMMAND})`,
    fallback: NO_COMMAND,
    parse: (value) => ok(value === "" ? NO_COMMAND : value)
  },
  worktree: {
    flag: "worktree",
    kind: "string",
    description: "worktree whose fsmonitor daemon to ask (default: the working directory)",
    fallback: ".",
    parse: (value) => value === "" ? { ok: false, expected: "a directory, not an empty string" } : ok(value)
  },
  json: {
    flag: "json",
    kind: "flag",
    description: "print the answer as JSON",
    fallback: false,
    parse: (value) =>
      value === "true" ? ok(true) : value === "false" ? ok(false) : { ok: false, expected: "true or false, or no value" }
  }
}

/**
 * The options with Git's defaults.
 *
 * @since 0.2.0
 * @category options
 */
export const defaults: Options = Object.fromEntries(
  Object.entries(specs).map(([key, spec]) => [key, spec.fallback])
) as unknown as Options

/**
 * A subcommand as the grammar knows it: its name, and whether it takes
 * Git's options at all (`SUPPORTS_SIMPLE_IPC` takes none).
 *
 * @since 0.2.0
 * @category models
 */
export interface Subcommand {
  readonly name: string
  readonly takesOptions: boolean
  /** The words one of which must follow the subcommand (`fsmonitor query`), if it takes one. */
  readonly actions?: ReadonlyArray<string>
}

/**
 * What an argument vector asks for: to run a subcommand with its options,
 * help (for a subcommand, or the tool), the version, or nothing valid, with
 * the reasons and the subcommand whose help to show.
 *
 * @since 0.2.0
 * @category models
 */
export type Invocation<S extends Subcommand> =
  | {
    readonly _tag: "Run"
    readonly subcommand: S
    readonly options: Options
    readonly logLevel: LogLevel | undefined
    /** The subcommand's action, for one that takes one. */
    readonly action?: string | undefined
  }
  | { readonly _tag: "Help"; readonly subcommand: S | undefined }
  | { readonly _tag: "Version" }
  | { readonly _tag: "Invalid"; readonly subcommand: S | undefined; readonly errors: ReadonlyArray<string> }

const optionsByFlag = new Map(
  (Object.entries(specs) as Array<[keyof Options, Spec<unknown>]>).map(([key, spec]) => [spec.flag, { key, spec }])
)

/** The built-in flags, with their short forms; they work with every subcommand. */
const HELP = new Set(["--help", "-h"])
const VERSION = new Set(["--version", "-v"])
const LOG_LEVEL = "log-level"

/** Edits (insertions, deletions, substitutions) between two short strings. */
const distance = (a: string, b: string): number => {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

/** Known names within two edits of a mistyped one, for a "did you mean" line. */
const suggest = (typed: string, known: Iterable<string>): ReadonlyArray<string> =>
  [...known].filter((name) => distance(typed, name) <= 2)

const didYouMean = (candidates: ReadonlyArray<string>) =>
  candidates.length === 0 ? "" : `; did you mean ${candidates.join(" or ")}?`

/**
 * Parses the arguments after the program name. Options take the form
 * `--name=value` (Git's) or `--name value`; the last of a repeated option
 * wins, as in Git's tool. `--help` anywhere asks for help, whatever else is
 * there.
 *
 * @since 0.2.0
 * @category parsing
 */
export const parse = <S extends Subcommand>(
  argv: ReadonlyArray<string>,
  subcommands: ReadonlyArray<S>
): Invocation<S> => {
  const errors: Array<string> = []
  const values: Record<string, unknown> = {}
  let subcommand: S | undefined
  let help = false
  let version = false
  let logLevel: LogLevel | undefined
  let action: string | undefined
  const context = () => `in command simple-ipc${subcommand === undefined ? "" : ` ${subcommand.name}`}`

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (HELP.has(arg)) {
      help = true
      continue
    }
    if (VERSION.has(arg)) {
      version = true
      continue
    }
    if (!arg.startsWith("-") || arg === "-") {
      if (subcommand?.actions !== undefined && action === undefined) {
        if (subcommand.actions.includes(arg)) action = arg
        else errors.push(`Unknown action "${arg}" ${context()}; expected ${subcommand.actions.join(", ")}`)
        continue
      }
      if (subcommand !== undefined) {
        errors.push(`Unexpected positional argument: "${arg}"`)
        continue
      }
      subcommand = subcommands.find((candidate) => candidate.name === arg)
      if (subcommand === undefined) {
        const names = subcommands.map((candidate) => candidate.name)
        errors.push(`Unknown subcommand "${arg}" for "simple-ipc"${didYouMean(suggest(arg, names))}`)
      }
      continue
    }
    const equals = arg.indexOf("=")
    const flag = arg.startsWith("--") ? arg.slice(2, equals === -1 ? undefined : equals) : undefined
    const option = flag === undefined ? undefined : optionsByFlag.get(flag)
    if (flag === undefined || (option === undefined && flag !== LOG_LEVEL)) {
      const known = flag === undefined ? [] : [...optionsByFlag.keys(), LOG_LEVEL, "help", "version"]
      const suggestions = suggest(flag ?? "", known).map((name) => `--${name}`)
      errors.push(`Unrecognized flag: ${arg.slice(0, equals === -1 ? undefined : equals)} ${context()}${didYouMean(suggestions)}`)
      continue
    }
    let value: string
    if (equals === -1 && option?.spec.kind === "flag") {
      value = "true"
    } else if (equals !== -1) {
      value = arg.slice(equals + 1)
    } else if (i + 1 < argv.length) {
      value = argv[++i]!
    } else {
      errors.push(`Missing value for flag --${flag}`)
      continue
    }
    if (option === undefined) {
      const level = Object.hasOwn(logLevels, value.toLowerCase())
        ? logLevels[value.toLowerCase() as keyof typeof logLevels]
        : undefined
      if (level === undefined) {
        errors.push(`Invalid value for flag --${LOG_LEVEL}: "${value}". Expected one of ${Object.keys(logLevels).join(", ")}`)
      } else {
        logLevel = level
      }
      continue
    }
    const parsed = option.spec.parse(value)
    if (parsed.ok) values[option.key] = parsed.value
    else errors.push(`Invalid value for flag --${flag}: "${value}". Expected ${parsed.expected}`)
  }

  if (help) return { _tag: "Help", subcommand }
  if (version && subcommand === undefined && errors.length === 0) return { _tag: "Version" }
  if (version) errors.push(`Unexpected flag --version ${context()}`)
  if (subcommand !== undefined && !subcommand.takesOptions) {
    for (const key of Object.keys(values)) errors.push(`Unrecognized flag: --${specs[key as keyof Options].flag} ${context()}`)
  }
  if (subcommand === undefined && errors.length === 0) errors.push("Missing subcommand")
  if (subcommand?.actions !== undefined && action === undefined && errors.length === 0) {
    errors.push(`Missing action ${context()}: one of ${subcommand.actions.join(", ")}`)
  }
  if (errors.length > 0 || subcommand === undefined) return { _tag: "Invalid", subcommand, errors }
  return { _tag: "Run", subcommand, options: { ...defaults, ...values } as Options, logLevel, action }
}
