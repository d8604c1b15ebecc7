import fc from "fast-check"

/** Latin-1 bytes of a string, so every test can write wire bytes literally. */
export const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "latin1"))

/** The bytes as a Latin-1 string. */
export const text = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("latin1")

/** Relative cut positions in [0, 1): where to split an input into pieces. */
export const splitPoints = fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { maxLength: 12 })

/** Splits `input` at the given relative positions (empty pieces included). */
export const rechunk = (input: Uint8Array, cuts: ReadonlyArray<number>): Array<Uint8Array> => {
  const positions = cuts.map((c) => Math.floor(c * (input.length + 1))).sort((a, b) => a - b)
  const pieces: Array<Uint8Array> = []
  let last = 0
  for (const p of positions) {
    pieces.push(input.subarray(last, p))
    last = p
  }
  pieces.push(input.subarray(last))
  return pieces
}
