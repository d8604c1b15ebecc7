/**
 * The test application's `sendbytes` request, apart from the application
 * itself: a client that sends it (the command line's `sendbytes` and
 * `multiple`) then loads none of the server's code.
 *
 * @since 0.2.0
 */

/**
 * The prefix of a `sendbytes` request; the ballast follows it.
 *
 * @since 0.1.0
 * @category constants
 */
export const SENDBYTES = "sendbytes "
