/**
 * Byte, text and errno helpers shared by the client, the server and the
 * transport.
 *
 * @since 0.1.0
 */

/**
 * Requests and replies may be given as text: it goes on the wire as UTF-8.
 * (`Buffer.from` takes short text from Node's shared pool, where
 * `TextEncoder` allocates each time.)
 *
 * @since 0.1.0
 */
export const toBytes = (data: Uint8Array | string): Uint8Array => typeof data === "string" ? Buffer.from(data, "utf8") : data

/**
 * A copy of `bytes` in memory of its own. (`Buffer#slice` makes a view, so
 * `bytes.slice()` copies only when `bytes` is not a Buffer.)
 *
 * @since 0.2.0
 */
export const copyOf = (bytes: Uint8Array): Uint8Array => Uint8Array.prototype.slice.call(bytes)

/**
 * The errno code of a Node system error (`ENOENT`, `EPIPE`, ...), if it has one.
 *
 * @since 0.1.0
 */
export const errnoOf = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code

/**
 * How much Node reads from a socket at once (its default read buffer): the
 * size of a buffer lent for reads instead.
 *
 * @since 0.2.0
 */
export const NODE_READ_SIZE = 64 * 1024
