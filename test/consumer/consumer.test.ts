/**
 * A consumer's first hour, as a new user meets the package: the tarball
 * `npm pack` makes, installed into a scratch project beside the
 * consumer's own `effect`; a program using the Quick start, a typed
 * service and AutoStart, type-checked by `tsc` (strict, NodeNext) and run;
 * the installed `simple-ipc` command; and a consumer on an `effect` this
 * package does not support, which npm refuses at install.
 *
 * Installs prefer npm's cache (filled by `npm ci`), so they need the
 * registry only for what the cache lacks.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile, type ExecFileOptions } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"
import { nodeBinary } from "../support/child.ts"
import { tempDir } from "../support/tempdir.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))
const fixture = fileURLToPath(new URL("./fixture/", import.meta.url))
const require = createRequire(import.meta.url)
const tsc = require.resolve("typescript/bin/tsc")
const installed = (name: string): string =>
  JSON.parse(fs.readFileSync(nodePath.join(root, "node_modules", name, "package.json"), "utf8")).version

interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs a command to completion. npm and the installed bin find this
 * project's Node first on the PATH, as they would a consumer's Node 24.
 */
const run = (command: string, args: ReadonlyArray<string>, options: ExecFileOptions) =>
  Effect.callback<Ran>((resume) => {
    const child = execFile(command, args, {
      ...options,
      env: { ...process.env, PATH: `${nodePath.dirname(nodeBinary)}${nodePath.delimiter}${process.env.PATH}` },
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024
    }, (error, stdout, stderr) =>
      resume(Effect.succeed({ code: error === null ? 0 : Number(error.code ?? 1), stdout: String(stdout), stderr: String(stderr) })))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

const npm = (cwd: string, ...args: Array<string>) => run("npm", args, { cwd })

/** Installs with npm's cache first, without the noise a scratch project does not need. */
const install = (cwd: string, ...specs: Array<string>) =>
  npm(cwd, "install", "--prefer-offline", "--no-audit", "--no-fund", "--no-package-lock", ...specs)

/** A scratch project under the OS temp dir. */
const project = (dir: string, name: string) => {
  const path = nodePath.join(dir, name)
  fs.mkdirSync(path)
  fs.writeFileSync(
    nodePath.join(path, "package.json"),
    JSON.stringify({ name, version: "1.0.0", private: true, type: "module" }, null, 2)
  )
  return path
}

/** The tarball a release would publish; `dist/` is already built (by the test run's setup). */
const pack = (dir: string) =>
  Effect.gen(function*() {
    // --ignore-scripts: `prepare` would rebuild dist/ under the feet of
    // tests running the command line meanwhile.
    const packed = yield* npm(root, "pack", "--ignore-scripts", "--json", "--pack-destination", dir)
    assert.strictEqual(packed.code, 0, packed.stderr)
    const [info] = JSON.parse(packed.stdout) as Array<{ readonly filename: string; readonly files: Array<{ readonly path: string }> }>
    return { tarball: nodePath.join(dir, info!.filename), files: info!.files.map((file) => file.path) }
  })

describe("a consumer of the packed package", () => {
  it.live("installs beside its own effect, type-checks and runs the README's programs, and runs the command", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const { tarball, files } = yield* pack(dir)
      // What ships: the build, its declarations and maps, and the changelog.
      for (const file of ["dist/index.js", "dist/index.d.ts", "dist/index.d.ts.map", "dist/cli/bin.js", "CHANGELOG.md", "README.md", "LICENSE"]) {
        assert.include(files, file)
      }

      const consumer = project(dir, "consumer")
      const added = yield* install(consumer, tarball, `effect@${installed("effect")}`, `@types/node@${installed("@types/node")}`)
      assert.strictEqual(added.code, 0, added.stderr)

      // One effect (the consumer's), and none of a platform package's tree.
      const ls = yield* npm(consumer, "ls", "--all", "--json")
      assert.strictEqual(ls.code, 0, ls.stderr)
      const names = new Set<string>()
      const walk = (deps: Record<string, { readonly dependencies?: Record<string, unknown> }> | undefined) => {
        for (const [name, dep] of Object.entries(deps ?? {})) {
          names.add(name)
          walk(dep.dependencies as Parameters<typeof walk>[0])
        }
      }
      walk(JSON.parse(ls.stdout).dependencies)
      for (const name of ["redis", "undici", "ws", "@effect/platform-node"]) assert.isFalse(names.has(name), name)
      assert.isFalse(fs.existsSync(nodePath.join(consumer, "node_modules/effect-simple-ipc/node_modules/effect")))
      console.log(`consumer's npm ls --all: ${names.size} packages: ${[...names].sort().join(", ")}`)

      for (const file of fs.readdirSync(fixture)) fs.copyFileSync(nodePath.join(fixture, file), nodePath.join(consumer, file))
      const checked = yield* run(nodeBinary, [tsc, "-p", consumer], { cwd: consumer })
      assert.strictEqual(checked.code, 0, checked.stdout + checked.stderr)

      const sockets = nodePath.join(dir, "sockets")
      fs.mkdirSync(sockets)
      const ran = yield* run(nodeBinary, ["main.ts", sockets], { cwd: consumer })
      assert.strictEqual(ran.code, 0, ran.stderr)
      const lines = ran.stdout.split("\n")
      assert.strictEqual(lines[0], "quick start: HELLO")
      assert.strictEqual(lines[1], "typed: 0.5 DivideByZero 1,2,3")
      assert.match(lines[2]!, /^autostart: one daemon \d+$/)
      // The daemon AutoStart started has ended with its stop.
      const daemon = Number(lines[2]!.split(" ").at(-1))
      const alive = () => {
        try {
          process.kill(daemon, 0)
          return true
        } catch {
          return false
        }
      }
      yield* Effect.sleep("10 millis").pipe(Effect.repeat({ while: alive, times: 500 }))
      assert.isFalse(alive(), "the auto-started daemon still runs")

      // The installed command line, with only this package and effect.
      const bin = (...args: Array<string>) => npm(consumer, "exec", "--offline", "--", "simple-ipc", ...args)
      const help = yield* bin("--help")
      assert.strictEqual(help.code, 0, help.stderr)
      assert.include(help.stdout, "simple-ipc <subcommand>")
      const path = nodePath.join(sockets, "cli.sock")
      const started = yield* bin("start-daemon", `--name=${path}`)
      assert.strictEqual(started.code, 0, started.stderr)
      const ping = yield* bin("send", `--name=${path}`, "--token=ping")
      assert.strictEqual(ping.stdout, "pong\n", ping.stderr)
      const stopped = yield* bin("stop-daemon", `--name=${path}`)
      assert.strictEqual(stopped.code, 0, stopped.stderr)
      assert.deepStrictEqual(fs.readdirSync(sockets), [])
    }), 300_000)

  it.live("a consumer on effect 3 is refused at install with npm's peer-dependency error", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const { tarball } = yield* pack(dir)
      const consumer = project(dir, "old-effect")
      const added = yield* install(consumer, tarball, "effect@^3")
      assert.notStrictEqual(added.code, 0)
      assert.include(added.stderr, "ERESOLVE")
      assert.match(added.stderr, /peer effect@"\^4\.1\.0" from effect-simple-ipc@/)
      assert.isFalse(fs.existsSync(nodePath.join(consumer, "node_modules", "effect-simple-ipc")))
    }), 300_000)
})
