/**
 * The monitor's memory: a numbered sequence of changed paths, and the
 * answer to "what changed since token T".
 *
 * A token is `<instance>:<sequence number>`. The instance is random per
 * daemon start, so a token from an earlier daemon (which saw other events)
 * is recognised as unknown rather than silently misread.
 */
import { randomBytes } from "node:crypto"
import type { Changes } from "./Protocol.ts"

export interface ChangeLog {
  /** Records that `path` changed. */
  readonly record: (path: string) => void
  /** Records that changes were lost: every earlier token now needs a full rescan. */
  readonly forget: () => void
  /** What changed since `token`. */
  readonly since: (token: string) => Changes
}

export interface Options {
  /**
   * How many events to keep. Past it the oldest are dropped, down to half
   * of it, and tokens from before them need a full rescan. Default 100 000.
   */
  readonly maxEvents?: number | undefined
}

export const make = (options?: Options): ChangeLog => {
  const instance = randomBytes(6).toString("hex")
  const maxEvents = Math.max(1, options?.maxEvents ?? 100_000)
  // events[i] has sequence number first + i; the newest is number `last`.
  let events: Array<string> = []
  let first = 1
  const last = () => first + events.length - 1
  const tokenOf = (seq: number) => `${instance}:${seq}`

  const record = (path: string) => {
    events.push(path)
    // Dropping half at a time keeps trimming cheap however busy the tree is.
    if (events.length > maxEvents) {
      const dropped = events.length - Math.floor(maxEvents / 2)
      events = events.slice(dropped)
      first += dropped
    }
  }

  const forget = () => {
    // Move past the current number: a token handed out before the loss
    // must not read as "nothing changed since".
    first = last() + 2
    events = []
  }

  const since = (token: string): Changes => {
    const now = tokenOf(last())
    const seq = parse(instance, token)
    if (seq === undefined || seq > last() || seq < first - 1) return { token: now, fullRescan: true, paths: [] }
    const paths = [...new Set(events.slice(seq - first + 1))].sort()
    return { token: now, fullRescan: false, paths }
  }

  return { record, forget, since }
}

/** The sequence number of a token of this instance, if it is one. */
const parse = (instance: string, token: string): number | undefined => {
  const match = /^([0-9a-f]+):(\d+)$/.exec(token)
  if (match === null || match[1] !== instance) return undefined
  return Number(match[2])
}
