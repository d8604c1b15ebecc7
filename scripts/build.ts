/**
 * `npm run build` (also run by `prepare`, so `npm ci` and `npm pack` build):
 * the library's modules and declarations with `tsc`, one file per module as
 * the package's entries name them; then the `simple-ipc` command line,
 * bundled with everything it imports (`effect` included) into
 * `dist/cli/`. A bundle starts several times faster than the same code
 * loaded module by module, and needs no package beside it: the command
 * works for a consumer that installed only this package and `effect`.
 */
import * as esbuild from "esbuild"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../", import.meta.url))

/** Compiles the library into `dist/`; fails with tsc's report on a type error. */
export const library = () => {
  // A module removed from src/ must not live on in dist/ (and in the packed tarball).
  fs.rmSync(new URL("../dist/", import.meta.url), { recursive: true, force: true })
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: root, stdio: ["ignore", "inherit", "inherit"] })
}

/**
 * Bundles the command line. Each subcommand's code is a chunk of its own,
 * loaded when it runs; the chunks stay beside `bin.js`, where `start-daemon`
 * looks for the command to start.
 */
export const commandLine = () => {
  fs.rmSync(new URL("../dist/cli/", import.meta.url), { recursive: true, force: true })
  return esbuild.build({
    absWorkingDir: root,
    entryPoints: ["src/cli/bin.ts"],
    outdir: "dist/cli",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node22",
    chunkNames: "[name]-[hash]",
    minifySyntax: true,
    minifyWhitespace: true,
    logLevel: "warning"
  })
}

if (import.meta.main) {
  library()
  await commandLine()
}
