/**
 * effect/rpc's server `Protocol` on a Simple IPC server: every connection
 * is a client of the RPC server with one call, whose response is written
 * with the connection's `reply` as the RPC server produces it.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import { RpcSerialization, RpcServer } from "effect/rpc"
import type * as RpcMessage from "effect/rpc/RpcMessage"
import type * as Scope from "effect/Scope"
import * as Server from "../../server/Server.ts"
import type * as Connection from "../../transport/Connection.ts"
import * as Wire from "./wire.ts"

const eof: RpcMessage.FromClientEncoded = { _tag: "Eof" }

/** One connection, seen as a client of the RPC server. */
class Call {
  /** Set once the response's last part is written: anything after it has no reader. */
  private answered = false
  /** Completed when the call is answered (or the RPC server is done with this client), failed when its connection broke. */
  readonly done = Deferred.makeUnsafe<void, Connection.TransportError>()
  private readonly reply: Server.Reply

  constructor(reply: Server.Reply) {
    this.reply = reply
  }

  send(response: RpcMessage.FromServerEncoded): Effect.Effect<void> {
    if (this.answered) return Effect.void
    switch (response._tag) {
      case "Chunk":
        return this.write(Wire.encodeChunk(response.values))
      case "Exit":
        return this.finish(Wire.encodeExit(response.exit))
      case "Defect":
        // A defect of the connection is one of its only call.
        return this.finish(Wire.encodeDefect(response.defect))
      default:
        // Pongs and server-sent requests have no place on this wire.
        return Effect.void
    }
  }

  /**
   * Writes the response's last part, and lets the connection end at once:
   * its flush need not wait for the RPC server to be done with the client.
   */
  private finish(text: string): Effect.Effect<void> {
    this.answered = true
    return Effect.andThen(this.write(text), Deferred.succeed(this.done, undefined))
  }

  /**
   * Writes part of the response, waiting while the client is slow to read.
   * When the client has gone, the call is interrupted (no one is left to
   * answer) and the connection's handler fails with the write's error.
   */
  private write(text: string): Effect.Effect<void> {
    return Effect.catch(this.reply(text), (error) => {
      this.answered = true
      return Effect.andThen(Deferred.fail(this.done, error), Effect.interrupt)
    })
  }
}

/**
 * The protocol, and the Simple IPC server it serves at `path`, for the life
 * of the scope.
 */
export const make = (
  path: string,
  options?: Server.Options
): Effect.Effect<
  { readonly protocol: RpcServer.Protocol["Service"]; readonly server: Server.Server },
  Server.StartError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const disconnects = yield* Queue.make<number>()
    const calls = new Map<number, Call>()
    let nextId = 0
    let writeRequest!: (clientId: number, message: RpcMessage.FromClientEncoded) => Effect.Effect<void>

    const protocol = yield* RpcServer.Protocol.make((write) => {
      writeRequest = write
      return Effect.succeed({
        disconnects,
        send: (clientId, response) => calls.get(clientId)?.send(response) ?? Effect.void,
        end: (clientId) => {
          const call = calls.get(clientId)
          return call === undefined ? Effect.void : Deferred.succeed(call.done, undefined)
        },
        clientIds: Effect.sync(() => new Set(calls.keys())),
        initialMessage: Effect.succeedNone,
        // Nothing can travel from the client once its request is sent: the
        // socket's own backpressure paces a stream, not acknowledgements.
        supportsAck: false,
        supportsTransferables: false,
        supportsSpanPropagation: true,
        supportsNotifications: false,
        codecFor: RpcSerialization.json.codecFor
      })
    })

    const handler: Server.Handler<Connection.TransportError> = (request, reply) =>
      Effect.suspend(() => {
        const id = nextId++
        const decoded = Wire.decodeRequest(request, id)
        if (typeof decoded === "string") return reply(Wire.encodeDefect(decoded))
        const call = new Call(reply)
        calls.set(id, call)
        return writeRequest(id, decoded).pipe(
          // The only call of this client: the RPC server ends the client
          // (and this connection) once the call is answered.
          Effect.andThen(writeRequest(id, eof)),
          Effect.andThen(Deferred.await(call.done)),
          Effect.onExit((exit) => {
            calls.delete(id)
            // Interrupted (the server's time limits, its stop) or the client
            // gone: the RPC server interrupts the call's handler.
            return exit._tag === "Failure" ? Queue.offer(disconnects, id) : Effect.void
          })
        )
      })

    const server = yield* Server.make(path, handler, options)
    return { protocol, server }
  })
