/**
 * `multiple`: many concurrent clients, each sending a batch of `sendbytes`
 * requests on a connection per request, as Git's stress test does.
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Runtime from "effect/Runtime"
import * as Stream from "effect/Stream"
import type * as Stdio from "effect/Stdio"
import type * as Client from "../client/Client.ts"
import * as Commands from "./Commands.ts"
import * as Output from "./Output.ts"
import * as Probe from "./Probe.ts"
import * as Progress from "./Progress.ts"
import * as Send from "./Send.ts"

/**
 * Some requests of `multiple` failed. Each failure was reported on
 * standard error as it happened, so this error adds no message of its own
 * (as Git's tool prints none); it only makes the exit code 1.
 *
 * @since 0.1.0
 * @category errors
 */
export class RequestsFailed extends Data.TaggedError("RequestsFailed")<{
  readonly failed: number
  readonly total: number
}> {
  override readonly [Runtime.errorReported] = false
  override get message(): string {
    return `${this.failed} of ${this.total} requests failed`
  }
}

/**
 * The clients Git's tool starts: client `k` sends the letter `'A' + k % 26`
 * and starts at `bytecount + batchsize × ⌊k / 26⌋` bytes, so that no two
 * clients send the same request.
 *
 * @since 0.1.0
 * @category models
 */
export const clients = (options: {
  readonly threads: number
  readonly bytecount: number
  readonly batchsize: number
}): ReadonlyArray<{ readonly byte: number; readonly bytecount: number }> =>
  Array.from({ length: options.threads }, (_, k) => ({
    byte: 65 + (k % 26),
    bytecount: options.bytecount + options.batchsize * Math.floor(k / 26)
  }))

/**
 * Runs `threads` clients concurrently, as fibers. Each sends `batchsize`
 * requests one after another, the j-th with `bytecount + j` bytes, and
 * each `sent:` line is printed as soon as its response is in. Finally
 * prints `client (good <n>) (join 0), (errors <m>)` and fails if any
 * request failed. While it runs, a progress line is drawn on standard
 * error if that is a terminal.
 *
 * @since 0.1.0
 * @category commands
 */
export const multiple = (options: {
  readonly name: string
  readonly threads: number
  readonly bytecount: number
  readonly batchsize: number
}): Effect.Effect<void, Client.ConnectError | RequestsFailed | Output.OutputError, Stdio.Stdio> =>
  Effect.gen(function*() {
    yield* Probe.requireListening(options.name)
    const total = options.threads * options.batchsize
    const progress = yield* Progress.make("multiple", total)
    const batch = (client: { readonly byte: number; readonly bytecount: number }) =>
      Stream.fromIterable(Array.from({ length: options.batchsize }, (_, j) => j)).pipe(
        Stream.mapEffect((j) => Effect.result(Send.sendbytesLine(options.name, client.bytecount + j, client.byte)))
      )
    let good = 0
    let failed = 0
    yield* Stream.mergeAll(clients(options).map(batch), { concurrency: "unbounded" }).pipe(
      Stream.runForEachArray((results) =>
        Effect.gen(function*() {
          const lines: Array<Uint8Array> = []
          const errors: Array<string> = []
          for (const result of results) {
            if (Result.isSuccess(result)) {
              good++
              lines.push(result.success)
            } else {
              failed++
              errors.push(`${Commands.errorText(result.failure.message)}\n`)
            }
          }
          // Output on the progress line's terminal must not be written after it.
          if (errors.length > 0 || progress.sharesTerminal) yield* progress.clear
          if (errors.length > 0) yield* Output.stderr(...errors)
          if (lines.length > 0) yield* Output.stdout(...lines)
          yield* progress.update(good + failed, failed)
        })
      )
    )
    yield* progress.clear
    yield* Output.stdout(`client (good ${good}) (join 0), (errors ${failed})\n`)
    if (failed > 0) return yield* new RequestsFailed({ failed, total })
  })
