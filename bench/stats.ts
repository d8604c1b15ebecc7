/** Small statistics helpers shared by the benchmarks. */

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export const percentile = (xs: ReadonlyArray<number>, p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

/**
 * Times several variants in interleaved rounds (one warm-up round first), so
 * that drift on a noisy machine affects them alike. Returns each variant's
 * median milliseconds.
 */
export const compare = async (
  runs: number,
  variants: Record<string, () => Promise<unknown> | unknown>
): Promise<Record<string, number>> => {
  const names = Object.keys(variants)
  const times: Record<string, Array<number>> = Object.fromEntries(names.map((n) => [n, []]))
  for (let round = 0; round <= runs; round++) {
    for (const name of names) {
      const start = performance.now()
      await variants[name]!()
      if (round > 0) times[name]!.push(performance.now() - start)
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(times[n]!)]))
}
