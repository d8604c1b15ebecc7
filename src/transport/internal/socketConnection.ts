/**
 * The engine beneath `Connection`: one class that owns a socket's reads,
 * writes and end, used alike by the server for every request it serves and
 * by the client for every connection it opens, whether it reads a whole
 * message in callbacks, streams one, or lends its read buffer.
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { constVoid } from "effect/Function"
import type * as Arr from "effect/Array"
import type * as Pull from "effect/Pull"
import * as Stream from "effect/Stream"
import * as net from "node:net"
import { MessageCollector, PayloadDecoder } from "../../framing/internal/decoder.ts"
import type * as PktLine from "../../framing/PktLine.ts"
import { copyOf, errnoOf } from "../../internal/Bytes.ts"
import { type ConnectOptions, type Connection, TransportError } from "../Connection.ts"
import * as SocketPath from "../SocketPath.ts"

/** Buffers smaller than this are gathered with their neighbours into one write. */
const GATHER_LIMIT = 16 * 1024

/** Bytes written but not yet taken by the kernel, above which a write waits for the socket to drain. */
const WRITE_ALLOWANCE = 1024 * 1024

/** Unread bytes above which the socket is paused until the reader catches up. */
const HIGH_WATER_MARK = 1024 * 1024


/** What a probe of the peer writes. */
const EMPTY = new Uint8Array(0)

/** Calls `done` with `result` now; nothing is left to stop. */
const settled = <A>(done: (result: A) => void, result: A) => {
  done(result)
  return constVoid
}

/** Where a connection's pieces go while a message is being read. */
type Consumer = (chunk: Uint8Array, borrowed: boolean) => void

const flushLater = (connection: SocketConnection) => connection.flushGathered()

/**
 * A connection's state lives in one object and its operations on the
 * prototype: a server makes one per request, and a closure per operation
 * would cost more than the rest of the connection's set-up.
 */
export class SocketConnection implements Connection {
  readonly path: string
  readonly socket: net.Socket
  private pending: Array<Uint8Array>
  private pendingBytes: number
  private ended = false
  private failure: unknown = undefined
  private wake: (() => void) | undefined = undefined
  // While a message is being read, pieces go straight to its reader.
  // `borrowed` pieces are views of the connection's read buffer: whoever
  // keeps one past the call must copy it.
  private consumer: Consumer | undefined = undefined
  // Small writes made in the same tick (a header and its payload, the
  // replies of a handler that does not wait, a response's last packet and
  // its flush) are gathered and leave as one buffer in one system call at
  // the end of the tick: copying a few small buffers costs far less than a
  // system call each, or than the kernel's gather of many pieces. Nothing
  // waits longer than the tick, so a streamed response still streams.
  // Large buffers are written as they are, after what was gathered.
  private gathered: Array<Uint8Array> = []
  private gatheredBytes = 0

  /** Whether the socket is connected: a failure before is one of connecting. */
  connected: boolean

  /**
   * Wraps `socket` (connected, or `connecting`). The caller owns the socket
   * and must destroy it. Every socket gets an `error` listener at once,
   * because an unhandled `error` event on any socket crashes the whole
   * process; errors become values of the operation that meets them.
   */
  constructor(socket: net.Socket, path: string, connecting = false) {
    this.socket = socket
    this.path = path
    this.connected = !connecting
    this.pending = []
    this.pendingBytes = 0
    socket.on("data", (chunk: Buffer) => this.onData(chunk, false))
    if (connecting) {
      socket.once("connect", () => {
        this.connected = true
      })
    }
    const onEnd = () => {
      this.ended = true
      this.notify()
    }
    socket.on("end", onEnd)
    socket.on("close", onEnd)
    socket.on("error", (error) => {
      this.failure ??= error
      this.notify()
    })
    // A socket closed before it was handed over, or whose peer's end was
    // read while it waited in a queue, will never emit `end` again.
    if (socket.destroyed || socket.readableEnded) this.ended = true
  }

  private notify(): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  /** A piece read: `borrowed` when it is a view of a lent read buffer. */
  onData(chunk: Uint8Array, borrowed: boolean): void {
    if (this.consumer !== undefined) return this.consumer(chunk, borrowed)
    const own = borrowed ? copyOf(chunk) : chunk
    this.pending.push(own)
    this.pendingBytes += own.length
    if (this.pendingBytes > HIGH_WATER_MARK) this.socket.pause()
    this.notify()
  }

  private waiting: Effect.Effect<void> | undefined = undefined

  /**
   * Waits until the socket has news: data, its end, or an error. Built once
   * per connection: a stream waits once per read.
   */
  private woken(): Effect.Effect<void> {
    if (this.waiting !== undefined) return this.waiting
    const unwake = Effect.sync(() => {
      this.wake = undefined
    })
    return this.waiting = Effect.callback<void>((resume) => {
      this.wake = () => resume(Effect.void)
      return unwake
    })
  }

  /** Calls `f` if the socket fails before it is connected (a refused connection). */
  failedUnsafe(f: (error: TransportError) => void): void {
    const socket = this.socket
    const onError = () => {
      if (!this.connected) f(this.readError())
    }
    socket.once("error", onError)
    socket.once("connect", () => socket.off("error", onError))
  }

  private readError(): TransportError {
    const failure = this.failure
    return new TransportError({
      path: this.path,
      operation: this.connected ? "read" : "connect",
      errno: errnoOf(failure),
      detail: String((failure as Error).message),
      cause: failure
    })
  }

  private readonly stopReading = () => {
    this.consumer = undefined
    this.wake = undefined
  }

  readMessageUnsafe(
    options: PktLine.CollectOptions | undefined,
    done: (result: Uint8Array | TransportError | PktLine.PktLineError) => void
  ): () => void {
    const collector = new MessageCollector(options)
    while (this.pending.length > 0) {
      const chunk = this.pending.shift()!
      this.pendingBytes -= chunk.length
      const result = collector.push(chunk)
      if (result !== undefined) return settled(done, result)
    }
    if (this.socket.isPaused()) this.socket.resume()
    if (this.failure !== undefined) return settled(done, this.readError())
    if (this.ended) return settled(done, collector.end())
    const finish = (result: Uint8Array | TransportError | PktLine.PktLineError) => {
      this.stopReading()
      done(result)
    }
    this.consumer = (chunk, borrowed) => {
      // The collector keeps views of what it is given.
      const result = collector.push(borrowed ? copyOf(chunk) : chunk)
      if (result !== undefined) finish(result)
    }
    this.wake = () => finish(this.failure !== undefined ? this.readError() : collector.end())
    return this.stopReading
  }

  /**
   * Calls `f` once the peer's end (EOF) or an error is seen, at once if it
   * already has been; returns what stops the watch. For a connection whose
   * message has been read: it rides on the wake-up the socket's listeners
   * already give, so watching costs no listener of its own. Bytes that
   * arrive meanwhile are kept, as ever, and do not end the watch.
   */
  watchEndUnsafe(f: () => void): () => void {
    if (this.ended || this.failure !== undefined) return settled(f, undefined)
    const watch = () => {
      if (this.ended || this.failure !== undefined) f()
      else this.wake = watch
    }
    this.wake = watch
    return this.stopReading
  }

  /**
   * Whether the peer has closed its end entirely, as opposed to only
   * shutting down its writing side (a half-close): an EOF alone cannot tell
   * them apart. A write of nothing can: it fails (`EPIPE`) once the peer's
   * socket is closed, and sends nothing otherwise. `done` is called once.
   */
  peerClosedUnsafe(done: (closed: boolean) => void): void {
    const socket = this.socket
    if (this.failure !== undefined || socket.destroyed || socket.writableEnded) return done(true)
    socket.write(EMPTY, (error) => done(error !== undefined && error !== null))
  }

  messageStream(): Stream.Stream<Uint8Array, TransportError | PktLine.PktLineError> {
    return Stream.fromPull(Effect.sync(() => this.payloads()))
  }

  readMessage(options?: PktLine.CollectOptions): Effect.Effect<Uint8Array, TransportError | PktLine.PktLineError> {
    return Effect.callback<Uint8Array, TransportError | PktLine.PktLineError>((resume) => {
      const stop = this.readMessageUnsafe(options, (result) =>
        resume(result instanceof Uint8Array ? Effect.succeed(result) : Effect.fail(result)))
      return Effect.sync(stop)
    })
  }

  payloads(options?: { readonly lend?: boolean }): Pull.Pull<Arr.NonEmptyReadonlyArray<Uint8Array>, TransportError | PktLine.PktLineError> {
    const connection = this
    const socket = this.socket
    const lend = options?.lend === true
    // The pieces decoded are ours (the socket's reads, copies, or the lent
    // buffer), so small payloads are joined in place: a read of tiny packets
    // gives one chunk, not one per packet.
    const decoder = new PayloadDecoder({ inPlace: true })
    let batch: Array<Uint8Array> = []
    // What the batch holds: its chunks keep their whole pieces alive.
    let batchBytes = 0
    let finished = false
    let malformed: PktLine.PktLineError | undefined = undefined
    // Set when reading stopped because a lent batch awaits its reader.
    let lending = false
    const decode = (piece: Uint8Array) => {
      const chunks = batch.length
      const result = decoder.push(piece, batch)
      if (batch.length > chunks) batchBytes += piece.length
      if (result === "input") return
      if (result === "end") finished = true
      else malformed = result
      // The message is over: what follows it is not ours to read.
      connection.consumer = undefined
    }
    const onPiece = (piece: Uint8Array, borrowed: boolean) => {
      const lent = borrowed && lend
      decode(borrowed && !lend ? copyOf(piece) : piece)
      if (batch.length === 0 && !finished && malformed === undefined) return
      // A lent batch must be read before the buffer is overwritten; an
      // owned one may pile up to the high-water mark. The reader is woken
      // for every read that brings a payload: waking it once after a run
      // of reads (on the next turn of the event loop) kept every read of
      // the run alive meanwhile, and the collector ran more often.
      if (lent) {
        lending = true
        socket.pause()
      } else if (batchBytes > HIGH_WATER_MARK) socket.pause()
      connection.notify()
    }
    this.consumer = onPiece
    for (const chunk of this.pending) {
      if (this.consumer === undefined) break
      decode(chunk)
    }
    this.pending = []
    this.pendingBytes = 0

    const pull: Pull.Pull<Arr.NonEmptyReadonlyArray<Uint8Array>, TransportError | PktLine.PktLineError> = Effect.suspend(() => {
      if (batch.length > 0) {
        const out = batch as unknown as Arr.NonEmptyReadonlyArray<Uint8Array>
        batch = []
        batchBytes = 0
        if (!lending && !finished && socket.isPaused()) socket.resume()
        return Effect.succeed(out)
      }
      if (malformed !== undefined) return Effect.fail(malformed)
      if (finished) return Cause.done()
      if (connection.failure !== undefined) return Effect.fail(connection.readError())
      if (connection.ended) return Effect.fail(decoder.end())
      // Pulling again means the last lent batch has been read.
      if (lending || socket.isPaused()) {
        lending = false
        socket.resume()
      }
      return wait
    })
    const wait = Effect.flatMap(connection.woken(), () => pull)
    return pull
  }

  private writeError(): TransportError {
    const error = this.failure
    return new TransportError({
      path: this.path,
      operation: "write",
      errno: errnoOf(error),
      detail: error === undefined ? "the connection is closed" : String((error as Error).message),
      cause: error
    })
  }

  /**
   * Calls `done` once, at `event` on the socket, or with `closed` true if
   * the socket closes first; returns what stops the wait. Socket events
   * come from the event loop, never during the call that causes them, so
   * the listeners are in place in time.
   */
  private untilUnsafe(event: "drain" | "finish", done: (closed: boolean) => void): () => void {
    const socket = this.socket
    const off = () => {
      socket.off(event, onEvent)
      socket.off("close", onClosed)
    }
    const onEvent = () => {
      off()
      done(false)
    }
    const onClosed = () => {
      off()
      done(true)
    }
    socket.on(event, onEvent)
    socket.on("close", onClosed)
    return off
  }

  /** Takes what was gathered, with `last` after it, as one buffer. */
  private release(last?: Uint8Array): Uint8Array | undefined {
    if (last !== undefined && this.gatheredBytes > 0) {
      this.gathered.push(last)
      this.gatheredBytes += last.length
    } else if (last !== undefined) return last
    if (this.gatheredBytes === 0) return undefined
    const out = this.gathered.length === 1 ? this.gathered[0]! : Buffer.concat(this.gathered, this.gatheredBytes)
    this.gathered = []
    this.gatheredBytes = 0
    return out
  }

  flushGathered(): void {
    const out = this.release()
    const socket = this.socket
    if (out !== undefined && !socket.destroyed && !socket.writableEnded) socket.write(out)
  }

  write(chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, TransportError> {
    return Effect.suspend(() => {
      const socket = this.socket
      if (this.failure !== undefined || socket.destroyed || socket.writableEnded) return Effect.fail(this.writeError())
      if (chunks.some((chunk) => chunk.length >= GATHER_LIMIT)) {
        // A large payload goes as it is, with what was gathered before it
        // and the headers around it, in one gathered system call.
        socket.cork()
        this.flushGathered()
        for (const chunk of chunks) socket.write(chunk)
        socket.uncork()
      } else {
        for (const chunk of chunks) {
          if (this.gatheredBytes === 0) process.nextTick(flushLater, this)
          this.gathered.push(chunk)
          this.gatheredBytes += chunk.length
          if (this.gatheredBytes >= GATHER_LIMIT) this.flushGathered()
        }
      }
      // Waits until the socket can take more, or fails if it died meanwhile.
      // Up to WRITE_ALLOWANCE may wait in the process: a response that fits
      // is handed over at once, so a server's handler is done with it even
      // if its client never reads (the rest is the server's to time out).
      if (!socket.writableNeedDrain || socket.writableLength < WRITE_ALLOWANCE) return Effect.void
      return Effect.callback<void, TransportError>((resume) =>
        Effect.sync(this.untilUnsafe("drain", (closed) => resume(closed ? Effect.fail(this.writeError()) : Effect.void)))
      )
    })
  }

  endUnsafe(last: Uint8Array | undefined, done: (error: TransportError | undefined) => void): () => void {
    const socket = this.socket
    if (this.failure !== undefined || socket.destroyed) return settled(done, this.writeError())
    const out = this.release(last)
    if (out === undefined) socket.end()
    else socket.end(out)
    // Written at once (the usual case): every byte is with the kernel and
    // only the shutdown is pending, which nobody needs to wait for; the
    // socket can be closed now without losing anything. Otherwise wait
    // until the rest has left the process.
    if (socket.writableLength === 0) return settled(done, undefined)
    return this.untilUnsafe("finish", (closed) => done(closed && !socket.writableFinished ? this.writeError() : undefined))
  }

  end(last?: Uint8Array): Effect.Effect<void, TransportError> {
    return Effect.callback<void, TransportError>((resume) =>
      Effect.sync(this.endUnsafe(last, (error) => resume(error === undefined ? Effect.void : Effect.fail(error))))
    )
  }
}

/** Closes a connection this module opened (its socket is the caller's to close). */
export const close = (connection: SocketConnection): Effect.Effect<void> => Effect.sync(() => connection.socket.destroy())

/**
 * Starts connecting to `address`: the connection exists at once, with its
 * reads wired from the first byte (the peer may answer before we hear that
 * we are connected: the request goes out with the connect). With
 * `readBuffer`, the socket reads into it, again and again, and a reader
 * that borrows the pieces (`payloads({ lend: true })`) allocates nothing
 * per read; other readers get copies.
 */
const dial = (path: string, address: string, readBuffer: Uint8Array | undefined): SocketConnection => {
  let connection: SocketConnection | undefined = undefined
  const socket = net.connect({
    path: address,
    allowHalfOpen: true,
    ...(readBuffer !== undefined
      ? {
        onread: {
          buffer: readBuffer,
          callback: (n: number, buffer: Uint8Array) => {
            // A reader that must finish with the piece first pauses the socket.
            connection!.onData(buffer.subarray(0, n), true)
            return true
          }
        }
      }
      : {})
  })
  connection = new SocketConnection(socket, path, true)
  return connection
}

/**
 * Runs `f` with the address `node:net` needs for `path`. The directory
 * descriptor a long path needs is only held while `f` runs.
 */
const atAddress = <A, E>(path: string, f: (address: string) => Effect.Effect<A, E>) => {
  const direct = SocketPath.directAddress(path)
  return direct !== undefined ? f(direct) : Effect.scoped(Effect.flatMap(SocketPath.address(path), f))
}

/**
 * Hands `chunks` to a socket in one gathered write; on a socket still
 * connecting, they leave as soon as it is connected. A single buffer (a
 * short request is framed into one) is written as it is: corking would
 * only add work to the round trip, with nothing to gather.
 */
const writeCorked = (socket: net.Socket, chunks: ReadonlyArray<Uint8Array>) => {
  if (chunks.length === 1) {
    socket.write(chunks[0]!)
    return
  }
  socket.cork()
  for (const chunk of chunks) socket.write(chunk)
  socket.uncork()
}

/** How to open a connection. */
export interface OpenOptions extends ConnectOptions {
  /** A buffer to read into, again and again (see {@link dial}). */
  readonly readBuffer?: Uint8Array | undefined
}

/**
 * Connects to the socket at `path`, without waiting or retrying: the caller
 * decides what a refusal means, and owns the connection (it must destroy
 * its socket). Fails with a `TransportError` of operation `connect` and the
 * errno of the attempt (`ENOENT`, `ECONNREFUSED`, `EAGAIN` when the backlog
 * is full, ...).
 */
export const open = (
  path: string,
  options?: OpenOptions
): Effect.Effect<SocketConnection, TransportError | SocketPath.SocketPathError> =>
  atAddress(path, (address) =>
    Effect.callback<SocketConnection, TransportError>((resume) => {
      const connection = dial(path, address, options?.readBuffer)
      const socket = connection.socket
      socket.once("connect", () => resume(Effect.succeed(connection)))
      connection.failedUnsafe((error) => {
        socket.destroy()
        resume(Effect.fail(error))
      })
      if (options?.send !== undefined) writeCorked(socket, options.send)
      return Effect.sync(() => socket.destroy())
    }))

/**
 * One whole exchange on a new connection, in one callback: connect, send
 * `request` (already framed) with the connect request, collect the first
 * message the peer sends, close. No Effect step between connecting and the
 * answer, which saves a turn of the event loop per request.
 *
 * A failure before the connection is up is a `TransportError` of operation
 * `connect` (the caller decides what a refusal means); one after it is of
 * operation `read`, or a `PktLineError` for a malformed, overlong or short
 * response. Interruption closes the socket. `onConnected` is told when the
 * connection is up (for a span).
 */
export const roundTrip = (
  path: string,
  request: ReadonlyArray<Uint8Array>,
  options?: PktLine.CollectOptions,
  onConnected?: () => void
): Effect.Effect<Uint8Array, TransportError | SocketPath.SocketPathError | PktLine.PktLineError> =>
  atAddress(path, (address) =>
    Effect.callback<Uint8Array, TransportError | PktLine.PktLineError>((resume) => {
      const connection = dial(path, address, undefined)
      const socket = connection.socket
      if (onConnected !== undefined) socket.once("connect", onConnected)
      connection.readMessageUnsafe(options, (result) => {
        socket.destroy()
        resume(result instanceof Uint8Array ? Effect.succeed(result) : Effect.fail(result))
      })
      writeCorked(socket, request)
      return Effect.sync(() => socket.destroy())
    }))
