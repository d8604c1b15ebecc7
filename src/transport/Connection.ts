/**
 * One Unix-domain-socket connection as a scoped Effect resource: a pull-based
 * reader with back-pressure, writes that wait for the socket to drain, and a
 * half-close that waits until everything written has left the process.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { constVoid } from "effect/Function"
import * as Data from "effect/Data"
import * as Pull from "effect/Pull"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Arr from "effect/Array"
import * as net from "node:net"
import * as PktLine from "../framing/PktLine.ts"
import * as SocketPath from "./SocketPath.ts"
import { copyOf, errnoOf } from "../internal/Bytes.ts"

/**
 * A socket operation failed: the peer went away while we wrote (`EPIPE`,
 * `ECONNRESET`), the connection was closed, or the system refused.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportError extends Data.TaggedError("TransportError")<{
  readonly path: string
  readonly operation: "connect" | "read" | "write"
  readonly errno?: string | undefined
  readonly reason: string
}> {
  override get message(): string {
    return `${this.operation} on '${this.path}' failed: ${this.reason}${this.errno ? ` (${this.errno})` : ""}`
  }
}

/**
 * A connection's operations are methods: call them on the connection
 * (`connection.write(...)`), not detached from it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Connection {
  /** The socket path this connection belongs to, for error messages. */
  readonly path: string
  /** The underlying socket. */
  readonly socket: net.Socket
  /**
   * The bytes the peer sends, in the pieces they arrive in. Reading is
   * pull-based: the socket is paused while unread data piles up.
   */
  readonly read: Effect.Effect<ReadonlyArray<Uint8Array>, TransportError | Cause.Done>
  /**
   * Reads the first message the peer sends into one buffer, decoding each
   * piece as it arrives (one Effect step for the whole message). Input that
   * ends before the message does is an error, as is a message longer than
   * `maxBytes`; bytes after the message are left unread.
   */
  readMessage(options?: PktLine.CollectOptions): Effect.Effect<Uint8Array, TransportError | PktLine.PktLineError>
  /**
   * {@link readMessage} for callback code: `done` is called once, with the
   * message or the error, possibly before this returns. Returns a function
   * that stops the read without calling `done`.
   *
   * For a server that reads a request in the socket's own callbacks, with
   * no fiber waiting, and starts one only for the application.
   */
  readMessageUnsafe(
    options: PktLine.CollectOptions | undefined,
    done: (result: Uint8Array | TransportError | PktLine.PktLineError) => void
  ): () => void
  /**
   * Starts reading the first message the peer sends as batches of payload
   * pieces, decoded as the bytes arrive. The pull fails with `Cause.Done`
   * after the message's last packet; input that ends before it is an
   * `UnexpectedEnd` error. Bytes after the message are left unread.
   *
   * Pieces follow the socket's reads, not the packets: a read's small
   * payloads are joined into one piece, so that what a batch holds is
   * bounded by bytes (the socket is paused above 1 MiB unread), however
   * small the packets.
   *
   * With `lend: true`, on a connection opened with a `readBuffer`, the
   * pieces are views of that buffer, valid only until the next pull: the
   * socket is not read again until then. Otherwise every piece is the
   * caller's to keep.
   */
  payloads(options?: { readonly lend?: boolean }): Pull.Pull<Arr.NonEmptyReadonlyArray<Uint8Array>, TransportError | PktLine.PktLineError>
  /** Writes buffers in order, as one batch; waits while the socket is full. */
  write(chunks: ReadonlyArray<Uint8Array>): Effect.Effect<void, TransportError>
  /**
   * Writes `last` (if given) and half-closes our side, waiting until
   * everything written has been handed to the kernel (not for the
   * shutdown itself: closing the socket afterwards loses nothing).
   */
  end(last?: Uint8Array): Effect.Effect<void, TransportError>
  /**
   * {@link end} for callback code: `done` is called once, with nothing or
   * the error, possibly before this returns. Returns a function that stops
   * waiting without calling `done`.
   */
  endUnsafe(last: Uint8Array | undefined, done: (error: TransportError | undefined) => void): () => void
}

/** Buffers smaller than this are gathered with their neighbours into one write. */
const GATHER_LIMIT = 16 * 1024

/** Bytes written but not yet taken by the kernel, above which a write waits for the socket to drain. */
const WRITE_ALLOWANCE = 1024 * 1024

/** Unread bytes above which the socket is paused until the reader catches up. */
const HIGH_WATER_MARK = 1024 * 1024

/**
 * Wraps a connected socket. The caller owns the socket and must destroy it
 * (a server closes each connection it serves; `connect` ties it to a
 * scope).
 *
 * Every socket gets an `error` listener at once, because an unhandled
 * `error` event on any socket crashes the whole process; errors become
 * values of the operation that meets them.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeUnsafe = (socket: net.Socket, path: string): Connection => make(socket, path)

/**
 * How a socket opened with a `readBuffer` reads: into `buffer`, each piece
 * handed to `onRead` as a view of it, overwritten by the next read. Until
 * the connection exists, `onRead` keeps copies in `early`: the peer may
 * answer before that (the request goes out with the connect).
 */
interface LentReads {
  readonly buffer: Uint8Array
  readonly early: Array<Uint8Array>
  onRead: (piece: Uint8Array) => void
}

const lentReads = (buffer: Uint8Array): LentReads => {
  const early: Array<Uint8Array> = []
  return { buffer, early, onRead: (piece) => void early.push(copyOf(piece)) }
}

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
class SocketConnection implements Connection {
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

  constructor(socket: net.Socket, path: string, lent?: LentReads) {
    this.socket = socket
    this.path = path
    this.pending = lent?.early ?? []
    this.pendingBytes = this.pending.reduce((n, piece) => n + piece.length, 0)
    socket.on("data", (chunk: Buffer) => this.onData(chunk, false))
    if (lent !== undefined) lent.onRead = (piece) => this.onData(piece, true)
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

  private onData(chunk: Uint8Array, borrowed: boolean): void {
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

  private readError(): TransportError {
    const failure = this.failure
    return new TransportError({ path: this.path, operation: "read", errno: errnoOf(failure), reason: String((failure as Error).message) })
  }

  get read(): Effect.Effect<ReadonlyArray<Uint8Array>, TransportError | Cause.Done> {
    return Effect.suspend(() => {
      if (this.pending.length > 0) {
        const out = this.pending
        this.pending = []
        this.pendingBytes = 0
        if (this.socket.isPaused()) this.socket.resume()
        return Effect.succeed(out)
      }
      if (this.failure !== undefined) return Effect.fail(this.readError())
      if (this.ended) return Cause.done()
      return Effect.flatMap(this.woken(), () => this.read)
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
    const collector = new PktLine.MessageCollector(options)
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
    const decoder = new PktLine.PayloadDecoder({ inPlace: true })
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
      reason: error === undefined ? "the connection is closed" : String((error as Error).message)
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

const make = (socket: net.Socket, path: string, lent?: LentReads): Connection => new SocketConnection(socket, path, lent)

/**
 * Connects to the socket at `path`, without waiting or retrying: the caller
 * decides what a refusal means. Fails with the errno of the attempt
 * (`ENOENT`, `ECONNREFUSED`, `EAGAIN` when the backlog is full, ...).
 *
 * @since 0.1.0
 * @category constructors
 */
export const connect = (
  path: string,
  options?: ConnectOptions
): Effect.Effect<Connection, TransportError | SocketPath.SocketPathError, Scope.Scope> =>
  Effect.acquireRelease(open(path, options), (connection) => Effect.sync(() => connection.socket.destroy()))

/**
 * Connects like {@link connect}, without a scope: the caller owns the
 * connection and must destroy its socket (`Effect.acquireUseRelease` is the
 * way). For a round trip that needs no scope of its own.
 *
 * @since 0.1.0
 * @category constructors
 */
export const open = (
  path: string,
  options?: ConnectOptions
): Effect.Effect<Connection, TransportError | SocketPath.SocketPathError> => {
  const lent = options?.readBuffer !== undefined ? lentReads(options.readBuffer) : undefined
  return atAddress(path, (address) =>
    Effect.map(connectSocket(path, address, options?.send, lent), (socket) => make(socket, path, lent)))
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

/**
 * @since 0.1.0
 * @category models
 */
export interface ConnectOptions {
  /**
   * Bytes to send as soon as the connection is up. Handing them to the
   * socket with the connect request saves a turn of the event loop per
   * round trip; if the connection fails they are discarded with it.
   */
  readonly send?: ReadonlyArray<Uint8Array> | undefined
  /**
   * A buffer to read into, again and again, instead of a new one for every
   * read: a reader that borrows the pieces (`payloads({ lend: true })`)
   * then allocates nothing per read, which keeps memory flat however much
   * streams through. Other readers get copies.
   */
  readonly readBuffer?: Uint8Array | undefined
}


const connectSocket = (
  path: string,
  address: string,
  send: ReadonlyArray<Uint8Array> | undefined,
  lent: LentReads | undefined
) =>
  Effect.callback<net.Socket, TransportError>((resume) => {
    const socket = net.connect({
      path: address,
      allowHalfOpen: true,
      ...(lent !== undefined
        ? { onread: { buffer: lent.buffer, callback: (n: number, buffer: Uint8Array) => {
          // A reader that must finish with the piece first pauses the socket.
          lent.onRead(buffer.subarray(0, n))
          return true
        } } }
        : {})
    })
    const onError = (error: Error) => {
      socket.destroy()
      resume(Effect.fail(new TransportError({ path, operation: "connect", errno: errnoOf(error), reason: error.message })))
    }
    socket.once("error", onError)
    socket.once("connect", () => {
      // Until the connection's own listener is attached, an error must still
      // be handled, or it would crash the process.
      socket.off("error", onError)
      socket.on("error", constVoid)
      resume(Effect.succeed(socket))
    })
    if (send !== undefined) writeCorked(socket, send)
    return Effect.sync(() => socket.destroy())
  })

/**
 * One whole exchange on a new connection, in one callback: connect, send
 * `request` (already framed) with the connect request, collect the first
 * message the peer sends, close. The hot path of a client's round trip:
 * no connection object and no Effect step between connecting and the
 * answer, which saves a turn of the event loop per request.
 *
 * A failure before the connection is up is a `TransportError` of operation
 * `connect` (the caller decides what a refusal means); one after it is of
 * operation `read`, or a `PktLineError` for a malformed, overlong or
 * short response. Interruption closes the socket.
 *
 * @since 0.2.0
 * @category messages
 */
export const roundTrip = (
  path: string,
  request: ReadonlyArray<Uint8Array>,
  options?: PktLine.CollectOptions,
  onConnected?: () => void
): Effect.Effect<Uint8Array, TransportError | SocketPath.SocketPathError | PktLine.PktLineError> =>
  atAddress(path, (address) => exchange(path, address, request, options, onConnected))

const exchange = (
  path: string,
  address: string,
  request: ReadonlyArray<Uint8Array>,
  options: PktLine.CollectOptions | undefined,
  onConnected: (() => void) | undefined
) =>
  Effect.callback<Uint8Array, TransportError | PktLine.PktLineError>((resume) => {
    const collector = new PktLine.MessageCollector(options)
    const socket = net.connect({ path: address, allowHalfOpen: true })
    let connected = false
    let settled = false
    // Outcomes are built only by the first to settle: an error value
    // captures a stack trace, which is dear on every request.
    const settle = (outcome: () => Effect.Effect<Uint8Array, TransportError | PktLine.PktLineError>) => {
      if (settled) return
      settled = true
      socket.destroy()
      resume(outcome())
    }
    socket.on("connect", () => {
      connected = true
      onConnected?.()
    })
    socket.on("data", (chunk: Buffer) => {
      const result = collector.push(chunk)
      if (result === undefined) return
      settle(() => result instanceof PktLine.PktLineError ? Effect.fail(result) : Effect.succeed(result))
    })
    // Whatever the peer does after the message is over is not our concern;
    // before it, an end of input is a short response.
    const ended = () => Effect.fail(collector.end())
    socket.on("end", () => settle(ended))
    socket.on("error", (error) =>
      settle(() =>
        Effect.fail(
          new TransportError({ path, operation: connected ? "read" : "connect", errno: errnoOf(error), reason: error.message })
        )
      ))
    socket.on("close", () => settle(ended))
    writeCorked(socket, request)
    return Effect.sync(() => socket.destroy())
  })

/**
 * The bytes the peer sends, as a Stream (single use).
 *
 * @since 0.1.0
 * @category accessors
 */
export const stream = (connection: Connection): Stream.Stream<Uint8Array, TransportError> =>
  Stream.fromPull(Effect.succeed(connection.read as Effect.Effect<Arr.NonEmptyReadonlyArray<Uint8Array>, TransportError | Cause.Done>))

/**
 * Sends one whole message: its data packets, then a flush.
 *
 * @since 0.1.0
 * @category messages
 */
export const writeMessage = (connection: Connection, message: Uint8Array): Effect.Effect<void, TransportError> =>
  connection.write(PktLine.encodeMessageChunks(message))

/**
 * Reads the first message the peer sends, into one buffer. Input that ends
 * before the message does is an error, as is a message longer than
 * `maxBytes`.
 *
 * @since 0.1.0
 * @category messages
 */
export const readMessage = (
  connection: Connection,
  options?: PktLine.CollectOptions
): Effect.Effect<Uint8Array, TransportError | PktLine.PktLineError> => connection.readMessage(options)

/**
 * The first message the peer sends, as a stream of payload chunks.
 *
 * @since 0.1.0
 * @category messages
 */
export const messageStream = (connection: Connection): Stream.Stream<Uint8Array, TransportError | PktLine.PktLineError> =>
  Stream.fromPull(Effect.sync(() => connection.payloads()))
