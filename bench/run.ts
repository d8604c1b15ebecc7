/** Runs every benchmark, prints a table and writes bench/results/latest.json. */
import { mkdirSync, writeFileSync } from "node:fs"
import * as codec from "./codec.ts"

const results = [...await codec.run()]
console.table(results)
mkdirSync(new URL("./results/", import.meta.url), { recursive: true })
writeFileSync(new URL("./results/latest.json", import.meta.url), JSON.stringify(results, null, 2))
