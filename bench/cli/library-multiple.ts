/**
 * The yardstick for `simple-ipc multiple`: the library's client doing the
 * same requests (`threads` fibers, each sending `batchsize` sendbytes
 * requests of `bytecount + j` bytes, one connection each), printing
 * nothing. `node library-multiple.ts <socketPath> <threads> <batchsize> <bytecount>`.
 */
import { Effect } from "effect"
import { Client } from "effect-simple-ipc"

const [path, threads, batchsize, bytecount] = [process.argv[2]!, ...process.argv.slice(3).map(Number)] as [string, number, number, number]

const request = (letter: number, n: number) => {
  const bytes = Buffer.alloc(10 + n, letter)
  bytes.write("sendbytes ", "latin1")
  return Client.request(path, bytes, { waitIfBusy: true })
}

const client = (k: number) =>
  Effect.forEach(Array.from({ length: batchsize }, (_, j) => j), (j) => request(65 + (k % 26), bytecount + j), { discard: true })

await Effect.runPromise(Effect.forEach(Array.from({ length: threads }, (_, k) => k), client, { concurrency: "unbounded", discard: true }))
