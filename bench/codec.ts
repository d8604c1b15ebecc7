/**
 * Codec throughput: decoding a message arriving in 64 KiB pieces, as a
 * socket delivers them, against plain `Buffer.concat` of the same pieces in
 * the same run. Two shapes: 100 MB of maximum-size packets (the bulk case)
 * and 16 MiB of 1-byte packets (the costliest shape a peer can send: five
 * wire bytes and a packet per payload byte).
 */
import { Effect, Stream } from "effect"
import * as PktLine from "../src/framing/PktLine.ts"
import { compare } from "./stats.ts"

const PIECE = 64 * 1024

/** One workload: `payload` bytes framed by `frame`, decoded both ways. */
const measure = async (workload: string, payload: number, wire: Uint8Array, runs: number) => {
  const pieces: Array<Uint8Array> = []
  for (let at = 0; at < wire.length; at += PIECE) pieces.push(wire.subarray(at, at + PIECE))

  const decodeStream = () =>
    Effect.runPromise(
      PktLine.decodeMessage(Stream.fromArray(pieces)).pipe(
        Stream.runFold(() => 0, (n, chunk) => n + chunk.length)
      )
    ).then((n) => {
      if (n !== payload) throw new Error(`decoded ${n} bytes, expected ${payload}`)
    })
  const collect = () =>
    Effect.runPromise(PktLine.readMessage(Stream.fromArray(pieces))).then((m) => {
      if (m.length !== payload) throw new Error("short message")
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
    workload,
    name: r.name,
    medianMs: Number(r.ms.toFixed(1)),
    mbPerSec: Number((mb / (r.ms / 1000)).toFixed(0)),
    vsBaseline: Number((base / r.ms).toFixed(2))
  }))
}

export const run = async (runs = 7) => {
  const bulk = 100 * 1000 * 1000
  const tiny = 16 * 1024 * 1024
  // `0005x` per payload byte, then a flush.
  const tinyWire = Buffer.alloc(5 * tiny + 4, "0005x")
  tinyWire.write("0000", 5 * tiny, "latin1")
  return [
    ...(await measure(
      "codec: decode 100 MB of fff0 packets",
      bulk,
      PktLine.encodeMessageBytes(new Uint8Array(bulk).fill(0x78)),
      runs
    )),
    ...(await measure("codec: decode 16 MiB of 1-byte packets (wire MB/s)", tiny, tinyWire, runs))
  ]
}

if (import.meta.main) {
  console.table(await run())
}
