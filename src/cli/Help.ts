/**
 * The help the command line prints: for the tool (its subcommands and
 * examples) and for each subcommand (the options it uses). Plain text,
 * built from the same tables the parser reads.
 *
 * @since 0.2.0
 */
import * as Options from "./Options.ts"

/**
 * A subcommand as its help shows it.
 *
 * @since 0.2.0
 * @category models
 */
export interface Described extends Options.Subcommand {
  /** One line, for the tool's list of subcommands. */
  readonly summary: string
  /** What it does, for its own help. */
  readonly description: string
  /** The options its help lists (it accepts them all). */
  readonly shown: ReadonlyArray<keyof Options.Options>
}

/**
 * The tool as its help shows it.
 *
 * @since 0.2.0
 * @category models
 */
export interface Tool<S extends Described> {
  readonly description: string
  readonly subcommands: ReadonlyArray<S>
  readonly examples: ReadonlyArray<{ readonly command: string; readonly description?: string }>
}

const INDENT = "  "

/** Rows of two columns, the second aligned four spaces past the widest first. */
const table = (rows: ReadonlyArray<readonly [string, string]>, gap = 4): string => {
  const width = Math.max(...rows.map(([left]) => left.length))
  return rows.map(([left, right]) => `${INDENT}${left.padEnd(width + gap)}${right}`).join("\n")
}

const section = (title: string, body: string) => `${title}\n${body}\n`

const globalFlags = section(
  "GLOBAL FLAGS",
  table([
    ["--help, -h", "Show help information"],
    ["--version, -v", "Show version information"],
    [`--log-level <${Object.keys(Options.logLevels).join("|")}>`, "Sets the minimum log level (default: info)"]
  ])
)

/**
 * The help of `subcommand`, or of the tool when there is none.
 *
 * @since 0.2.0
 * @category rendering
 */
export const render = <S extends Described>(tool: Tool<S>, subcommand: S | undefined): string => {
  if (subcommand === undefined) {
    return [
      section("DESCRIPTION", `${INDENT}${tool.description}`),
      section("USAGE", `${INDENT}simple-ipc <subcommand> [flags]`),
      globalFlags,
      section("SUBCOMMANDS", table(tool.subcommands.map((s) => [s.name, s.summary]), 1)),
      section(
        "EXAMPLES",
        tool.examples.map((e) => `${e.description ? `${INDENT}# ${e.description}\n` : ""}${INDENT}${e.command}`).join("\n\n")
      )
    ].join("\n")
  }
  const flags = subcommand.shown.map((key) => {
    const spec = Options.specs[key]
    return [spec.kind === "flag" ? `--${spec.flag}` : `--${spec.flag} ${spec.kind}`, spec.description] as const
  })
  return [
    section("DESCRIPTION", `${INDENT}${subcommand.description}`),
    section(
      "USAGE",
      `${INDENT}simple-ipc ${subcommand.name}${subcommand.actions ? ` <${subcommand.actions.join("|")}>` : ""}${
        subcommand.takesOptions ? " [flags]" : ""
      }`
    ),
    ...(flags.length > 0 ? [section("FLAGS", table(flags))] : []),
    globalFlags
  ].join("\n")
}
