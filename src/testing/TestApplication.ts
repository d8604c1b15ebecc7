/**
 * The test application Git's own test suite serves over Simple IPC, so that
 * scripts and recordings made against Git's tool run unchanged against
 * ours. Command matching is exact and case-sensitive.
 *
 * | request | response |
 * | --- | --- |
 * | `quit` | nothing; asks the server to stop |
 * | `ping` | `pong` |
 * | `big` | 10000 lines `big: <row %.75d>\n`, in one reply |
 * | `chunk` | the same lines, one reply each |
 * | `slow` | 1000 such lines, one reply each, 10 ms apart |
 * | `sendbytes <ballast>` | `rcvd:<byte><length %08d>\n`, or `errs:<count>\n` |
 * | anything else | `unhandled command: <request>` |
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Server from "../server/Server.ts"
import type { TransportError } from "../transport/Connection.ts"
import * as Sendbytes from "./Sendbytes.ts"

const decoder = new TextDecoder("latin1")

/**
 * One row of the `big`, `chunk` and `slow` responses, for checking them.
 *
 * @since 0.1.0
 * @category utils
 */
export const row = (n: number): string => `big: ${String(n).padStart(75, "0")}\n`

const rows = (count: number) => {
  let out = ""
  for (let i = 0; i < count; i++) out += row(i)
  return out
}

const SENDBYTES = Sendbytes.SENDBYTES

/**
 * The `sendbytes` answer for a ballast: whether every byte equals the
 * first, and if so which byte and how many.
 */
const sendbytesAnswer = (ballast: Uint8Array): string => {
  // An empty ballast has no first byte to report.
  if (ballast.length === 0) return "rcvd:00000000\n"
  const first = ballast[0]!
  let errors = 0
  for (let i = 1; i < ballast.length; i++) if (ballast[i] !== first) errors++
  return errors > 0
    ? `errs:${errors}\n`
    : `rcvd:${String.fromCharCode(first)}${String(ballast.length).padStart(8, "0")}\n`
}

const startsWith = (request: Uint8Array, prefix: string) => {
  if (request.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (request[i] !== prefix.charCodeAt(i)) return false
  return true
}

/**
 * Answers that carry request bytes (the ballast byte, an unhandled command)
 * go back as those bytes: the request was decoded as Latin-1, one character
 * per byte, and a UTF-8 encoding would turn a byte above 127 into two.
 */
const latin1 = (text: string): Uint8Array => Buffer.from(text, "latin1")

/** The `big` response (810 000 bytes), built the first time it is asked for rather than at import. */
let big: Uint8Array | undefined = undefined
const bigResponse = (): Uint8Array => big ??= new TextEncoder().encode(rows(10000))

/**
 * The test application as a server handler.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Server } from "effect-simple-ipc"
 * import { handler } from "effect-simple-ipc/testing"
 *
 * // Serves Git's test application until a client sends `quit`.
 * Effect.runFork(Server.run("/tmp/ipc-test.sock", handler))
 * ```
 *
 * @since 0.1.0
 * @category handlers
 */
export const handler: Server.Handler<TransportError> = (request, reply) =>
  Effect.gen(function*() {
    if (startsWith(request, SENDBYTES)) {
      yield* reply(latin1(sendbytesAnswer(request.subarray(SENDBYTES.length))))
      return
    }
    const command = decoder.decode(request)
    switch (command) {
      case "quit":
        return Server.Quit
      case "ping":
        yield* reply("pong")
        return
      case "big":
        yield* reply(bigResponse())
        return
      case "chunk":
        for (let i = 0; i < 10000; i++) yield* reply(row(i))
        return
      case "slow":
        for (let i = 0; i < 1000; i++) {
          if (i > 0) yield* Effect.sleep(Duration.millis(10))
          yield* reply(row(i))
        }
        return
      default:
        yield* reply(latin1(`unhandled command: ${command}`))
    }
  })
