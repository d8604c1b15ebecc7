/**
 * Codec throughput: decoding 100 MB of maximum-size packets, arriving in
 * 64 KiB pieces as a socket delivers them, against plain `Buffer.concat` of
 * the same pieces in the same run.
 */
import { Effect, Stream } from "effect"
import * as PktLine from "../src/framing/PktLine.ts"
import { compare } from "./stats.ts"

const TOTAL = 100 * 1000 * 1000
const PIECE = 64 * 1024

export const run = async (runs = 7) => {
  const payload = new Uint8Array(TOTAL).fill(0x78)
  const wire = PktLine.encodeMessageBytes(payload)
  const pieces: Array<Uint8Array> = []
  for (let at = 0; at < wire.length; at += PIECE) pieces.push(wire.subarray(at, at + PIECE))

  const decodeStream = () =>
    Effect.runPromise(
      PktLine.decodeMessage(Stream.fromArray(pieces)).pipe(
        Stream.runFold(() => 0, (n, chunk) => n + chunk.length)
      )
    ).then((n) => {
      if (n !== TOTAL) throw new Error(`decoded ${n} bytes, expected ${TOTAL}`)
    })
  const collect = () =>
    Effect.runPromise(PktLine.readMessage(Stream.fromArray(pieces))).then((m) => {
      if (m.length !== TOTAL) throw new Error("short message")
    })
  const baseline = () => {
    const all = Buffer.concat(pieces)
    if (all.length !== wire.length) throw new Error("short concat")
  }

  const mb = wire.length / 1e6
  const medians = await compare(runs, {
    "Buffer.concat (baseline)": baseline,
    "decodeMessage (stream)": decodeStream,
    "readMessage (collected)": collect
  })
  const rows = Object.entries(medians).map(([name, ms]) => ({ name, ms }))
  const base = rows[0]!.ms
  return rows.map((r) => ({
    workload: "codec: decode 100 MB of fff0 packets",
    name: r.name,
    medianMs: Number(r.ms.toFixed(1)),
    mbPerSec: Number((mb / (r.ms / 1000)).toFixed(0)),
    vsBaseline: Number((base / r.ms).toFixed(2))
  }))
}

if (import.meta.main) {
  console.table(await run())
}
