/**
 * The options of Git's `test-tool simple-ipc`, with Git's defaults and
 * clamping. Git parses every option for every subcommand, so every
 * subcommand here accepts all of them too (a script passing one that a
 * subcommand ignores keeps working); each subcommand's help lists only the
 * ones it uses.
 *
 * @since 0.1.0
 */
import * as Flag from "effect/cli/Flag"

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
  /** Ballast bytes per request; at least 1. */
  readonly bytecount: number
  /** Requests per client in `multiple`; at least 1. */
  readonly batchsize: number
  /** The ballast byte: the first byte of `--byte`. */
  readonly byte: number
  /** The request `send` sends. */
  readonly token: string
}

/**
 * What `send` sends when `--token` is missing or empty, as Git's tool does.
 *
 * @since 0.1.0
 * @category constants
 */
export const NO_COMMAND = "(no-command)"

const atLeast = (min: number) => (n: number) => Math.max(min, n)

/** Git takes the first byte of `--byte`; an empty value keeps the default. */
const firstByte = (value: string): number => Buffer.from(value, "utf8")[0] ?? "x".charCodeAt(0)

/** An integer option with Git's default, where a value below `min` counts as `min`. */
const clampedInt = (name: string, description: string, fallback: number, min: number) =>
  Flag.Int(name).pipe(
    Flag.withDescription(`${description} (default: ${fallback}; below ${min} means ${min})`),
    Flag.withDefault(fallback),
    Flag.map(atLeast(min))
  )

const definitions: { readonly [K in keyof Options]: Flag.Flag<Options[K]> } = {
  name: Flag.String("name").pipe(
    Flag.withDescription("socket path of the server (default: ipc-test, in the working directory)"),
    Flag.withDefault("ipc-test")
  ),
  threads: clampedInt("threads", "server workers, or concurrent clients for multiple", 5, 1),
  maxWait: clampedInt("max-wait", "seconds to wait for the daemon to start or stop", 60, 0),
  bytecount: clampedInt("bytecount", "ballast bytes per request", 1024, 1),
  batchsize: clampedInt("batchsize", "requests per client", 10, 1),
  byte: Flag.String("byte").pipe(
    Flag.withDescription("ballast byte: the first byte of the value (default: x)"),
    Flag.withDefault("x"),
    Flag.map(firstByte)
  ),
  token: Flag.String("token").pipe(
    Flag.withDescription(`request to send (default: ${NO_COMMAND})`),
    Flag.withDefault(""),
    Flag.map((token) => token === "" ? NO_COMMAND : token)
  )
}

/**
 * The flags of a subcommand: every option is accepted, and the ones
 * listed in `shown` appear in its help.
 *
 * @since 0.1.0
 * @category flags
 */
export const flags = (...shown: ReadonlyArray<keyof Options>): typeof definitions => {
  const result: Record<string, Flag.Flag<unknown>> = {}
  for (const [key, flag] of Object.entries(definitions) as Array<[keyof Options, Flag.Flag<unknown>]>) {
    result[key] = shown.includes(key) ? flag : Flag.withHidden(flag)
  }
  return result as unknown as typeof definitions
}
