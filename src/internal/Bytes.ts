/**
 * Text and errno helpers shared by the client, the server and the
 * transport.
 *
 * @since 0.1.0
 */

const encoder = new TextEncoder()

/**
 * Requests and replies may be given as text: it goes on the wire as UTF-8.
 *
 * @since 0.1.0
 */
export const toBytes = (data: Uint8Array | string): Uint8Array => typeof data === "string" ? encoder.encode(data) : data

/**
 * The errno code of a Node system error (`ENOENT`, `EPIPE`, ...), if it has one.
 *
 * @since 0.1.0
 */
export const errnoOf = (error: unknown): string | undefined => (error as NodeJS.ErrnoException | undefined)?.code
