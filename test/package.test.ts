/**
 * The package as users import it: the root, and one entry per module so
 * that a client or a server loads only what it uses.
 */
import { assert, describe, it } from "@effect/vitest"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as Index from "../dist/index.js"

const pkg = JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  readonly name: string
  readonly exports: Record<string, { readonly types: string; readonly default: string } | string | null>
}

/**
 * The module entries: every export but the package's own manifest, the
 * internals it closes off, and the test application (`./testing`), which
 * is not part of the root.
 */
const moduleEntries = Object.fromEntries(
  Object.entries(pkg.exports).filter((entry): entry is [string, { readonly types: string; readonly default: string }] =>
    typeof entry[1] === "object" && entry[1] !== null && entry[0] !== "./testing"
  )
)

describe("package entry points", () => {
  it("every module of the root is also an entry of its own, with the same exports", async () => {
    const modules = Object.keys(Index).sort()
    const entries = Object.keys(moduleEntries).filter((key) => key !== ".").map((key) => key.slice(2)).sort()
    assert.deepStrictEqual(entries, modules)
    for (const name of modules) {
      const entry = moduleEntries[`./${name}`]!
      assert.isTrue(fs.existsSync(new URL(`../${entry.types}`, import.meta.url)), entry.types)
      const module = await import(`../${entry.default}`) as Record<string, unknown>
      assert.deepStrictEqual(Object.keys(module).sort(), Object.keys((Index as Record<string, object>)[name]!).sort(), name)
    }
  })

  it("a client or a server entry resolves by the package's name and does not load effect/Schema", () => {
    for (const name of ["Client", "Server"]) {
      const script = `
        import { registerHooks } from "node:module"
        const loaded = []
        registerHooks({ resolve: (specifier, context, next) => { loaded.push(specifier); return next(specifier, context) } })
        const module = await import("${pkg.name}/${name}")
        console.log(JSON.stringify({ exports: Object.keys(module).length, schema: loaded.some((s) => /Schema(\\.js)?$/.test(s)) }))
      `
      const out = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" })) as {
        readonly exports: number
        readonly schema: boolean
      }
      assert.isAbove(out.exports, 0, name)
      assert.isFalse(out.schema, `${name} loads effect/Schema`)
    }
  })
})

describe("package.json, as the ecosystem expects it", () => {
  const manifest = JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as Record<string, any>

  it("effect is a peer (and only a development dependency here); nothing else is installed with the package", () => {
    assert.strictEqual(manifest.peerDependencies.effect, "^4.1.0")
    assert.strictEqual(manifest.devDependencies.effect, "^4.1.0")
    assert.isUndefined(manifest.dependencies)
  })

  it("declares itself free of side effects, exports its manifest, keeps its internals out of reach", () => {
    assert.strictEqual(manifest.sideEffects, false)
    assert.strictEqual(manifest.exports["./package.json"], "./package.json")
    assert.isAbove(manifest.keywords.length, 0)
    assert.isNull(manifest.exports["./internal/*"])
  })

  it("ships declaration maps, and the changelog whose latest entry is this version", () => {
    assert.isTrue(fs.existsSync(new URL("../dist/index.d.ts.map", import.meta.url)))
    assert.include(manifest.files, "CHANGELOG.md")
    const changelog = fs.readFileSync(new URL("../CHANGELOG.md", import.meta.url), "utf8")
    assert.strictEqual(/^## (\S+)/m.exec(changelog)?.[1], manifest.version)
  })
})
