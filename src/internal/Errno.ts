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
