/**
 * The API documentation's examples: every `@example` in the JSDoc of the
 * package's exports type-checks as a consumer's program (importing
 * `effect-simple-ipc` by name), and every exported constructor has one,
 * but for those still listed in docs/constructors-without-examples.json,
 * a list that may only shrink.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import * as JsdocExamples from "../../scripts/jsdoc-examples.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))
const allowlist = new URL("../../docs/constructors-without-examples.json", import.meta.url)
const known: ReadonlyArray<string> = JSON.parse(fs.readFileSync(allowlist, "utf8")).constructors

describe("the JSDoc examples", () => {
  const collected = JsdocExamples.collect(root)

  it("are found (the check looks where the examples are)", () => {
    assert.isAbove(collected.examples.length, 0)
    assert.include(collected.examples.map((example) => example.owner), "SimpleIpcRpc.layerProtocolServer")
  })

  it("each type-checks as a program of its own", () => {
    assert.deepStrictEqual(JsdocExamples.typeCheck(root, collected.examples), [])
  }, 120_000)

  it("every exported constructor has one, but for the known-missing list, which only shrinks", () => {
    const missing = collected.constructors.filter((c) => !c.hasExample).map((c) => c.owner)
    console.log(`constructors without an @example (${missing.length}): ${missing.join(", ")}`)
    const newlyMissing = missing.filter((owner) => !known.includes(owner))
    assert.deepStrictEqual(newlyMissing, [], "constructors without an @example: add one")
    const documentedNow = known.filter((owner) => !missing.includes(owner))
    assert.deepStrictEqual(documentedNow, [], "these have an @example now: remove them from docs/constructors-without-examples.json")
  })
})

describe("the API reference", () => {
  it("builds from the JSDoc without a warning (links resolve, nothing exported is left out)", async () => {
    const { execFile } = await import("node:child_process")
    const { createRequire } = await import("node:module")
    const typedoc = createRequire(import.meta.url).resolve("typedoc/package.json").replace(/package\.json$/, "bin/typedoc")
    const result = await new Promise<{ code: number; output: string }>((resolve) =>
      execFile(process.execPath, [typedoc, "--emit", "none"], { cwd: root, encoding: "utf8" }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code ?? 1), output: stdout + stderr }))
    )
    assert.strictEqual(result.code, 0, result.output)
  }, 120_000)
})
