/**
 * The server's side of the control requests (see `client/Control.ts` for
 * the wire): when the server is started with `identity` or `status`, its
 * handler is wrapped so that those exact requests are answered here and
 * never reach the application; every other request, and a control request
 * the server was not asked to answer, goes to the application unchanged.
 *
 * Nothing here loads Schema: the answers are plain JSON, in the shape the
 * client's schemas decode.
 */
import * as Effect from "effect/Effect"
import type { Identity, Status } from "../../client/Control.ts"
import { type Verb, verbOf } from "../../internal/Control.ts"
import type * as Connection from "../../transport/Connection.ts"
import type { Handler, Options } from "../Server.ts"
import type { Recorder } from "./metrics.ts"

/** Connections open now, by state (see the engine's states). */
export type Load = Status["connections"]

/** What the server was asked to answer. */
export interface Settings {
  readonly path: string
  readonly identity: Options["identity"]
  readonly status: Options["status"]
}

/** Whether any control request is to be answered. */
const answersAny = (settings: Settings): boolean => settings.identity !== undefined || isEnabled(settings.status)

const isEnabled = (status: Settings["status"]): boolean => status !== undefined && status !== false

const logPathOf = (status: Settings["status"]): string | null =>
  typeof status === "object" && status.logPath !== undefined ? status.logPath : null

/**
 * The handler the engine runs with: the application's own when no
 * control request is to be answered (nothing added on the way of a
 * request), otherwise wrapped. `recorder`'s totals and `load` are read
 * when a status is asked.
 */
export const make = <E, R>(
  settings: Settings,
  handler: Handler<E, R>,
  recorder: Recorder,
  load: () => Load
): {
  readonly handler: Handler<E | Connection.TransportError, R>
  readonly placeless: ((request: Uint8Array) => boolean) | undefined
} => {
  if (!answersAny(settings)) return { handler, placeless: undefined }
  const startedAt = Date.now()
  const identity: Identity | null = settings.identity === undefined ? null : {
    name: settings.identity.name,
    version: settings.identity.version,
    protocol: settings.identity.protocol,
    pid: process.pid,
    startedAt
  }
  // Never changes: made once.
  const identityAnswer = JSON.stringify(identity)
  const status = !isEnabled(settings.status) ? undefined : (): Status => {
    const now = load()
    // The status request is itself an open connection (though it holds no
    // place); it is left out, so that an idle server says so.
    return {
      identity,
      pid: process.pid,
      socket: settings.path,
      uptimeMillis: Date.now() - startedAt,
      connections: { ...now, open: Math.max(0, now.open - 1) },
      counters: recorder.totals(),
      logPath: logPathOf(settings.status)
    }
  }
  /** The answer to `verb`, when this server answers it. */
  const answerTo = (verb: Verb | undefined): (() => string) | undefined => {
    if (verb === "identity" && identity !== null) return () => identityAnswer
    if (verb === "status" && status !== undefined) return () => JSON.stringify(status())
    return undefined
  }
  const answering: Handler<E | Connection.TransportError, R> = (request, reply) => {
    const answer = answerTo(verbOf(request))
    return answer === undefined ? handler(request, reply) : Effect.suspend(() => reply(answer()))
  }
  return {
    handler: answering,
    placeless: (request) => answerTo(verbOf(request)) !== undefined
  }
}
