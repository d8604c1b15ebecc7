/**
 * Reading system error codes.
 *
 * @since 0.2.0
 */

/**
 * Whether the system refused for lack of permission (`EACCES`, `EPERM`):
 * the file or a directory on its path does not let this user in, which no
 * retry and no other path spelling will change.
 *
 * @since 0.2.0
 * @category errno
 */
export const isPermissionDenied = (errno: string | undefined): boolean => errno === "EACCES" || errno === "EPERM"

/**
 * Whether a connection attempt met a live server that takes no connection
 * right now: a full backlog (`EAGAIN`), a Windows pipe whose instances are
 * all taken (`EBUSY`, Windows' `ERROR_PIPE_BUSY`), or a wait for a free one
 * that ran out (`ETIMEDOUT`).
 *
 * @since 0.2.0
 * @category errno
 */
export const isBusy = (errno: string | undefined): boolean => errno === "EAGAIN" || errno === "EBUSY" || errno === "ETIMEDOUT"
