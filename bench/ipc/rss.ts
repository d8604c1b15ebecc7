/** Peak resident set size of a process, for the memory workload. */
import { readFileSync } from "node:fs"

/**
 * Peak RSS in MiB of process `pid` (default: this process), from the kernel's
 * exact high-water mark `VmHWM` in /proc/<pid>/status. Outside Linux, for
 * this process only, falls back to `process.resourceUsage().maxRSS` (the
 * same figure from getrusage); for another process it answers `NaN`.
 */
export const peakRssMiB = (pid: number | "self" = "self"): number => {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "latin1")
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status)
    if (m) return Number(m[1]) / 1024
  } catch {
    // no /proc: fall through
  }
  return pid === "self" || pid === process.pid ? process.resourceUsage().maxRSS / 1024 : Number.NaN
}
