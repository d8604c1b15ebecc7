/**
 * Which file a path names, by inode and device, and whose it is: how the
 * lock file and the listener tell the file they created from one someone
 * else put at the same path since, so that they never remove what is not
 * theirs.
 *
 * @since 0.1.0
 */
import type * as fs from "node:fs"
import * as nodeFs from "node:fs"

/**
 * @since 0.1.0
 * @category models
 */
export interface Identity {
  readonly ino: number
  readonly dev: number
  /**
   * When the file was made (0 where the file system does not say): an
   * inode number is reused as soon as its file is removed, so a socket
   * made at once in our removed socket's place may have its number.
   */
  readonly birth: number
}

/**
 * @since 0.1.0
 * @category constructors
 */
export const of = (stats: fs.Stats): Identity => ({ ino: stats.ino, dev: stats.dev, birth: stats.birthtimeMs })

/**
 * Whether `stats` are those of the file `identity`.
 *
 * @since 0.2.0
 * @category predicates
 */
export const isSame = (stats: fs.Stats, identity: Identity): boolean =>
  stats.ino === identity.ino && stats.dev === identity.dev && stats.birthtimeMs === identity.birth

/**
 * Whether `path` still names the file `identity` (and, if given, passes
 * `check`). A symlink at the path is looked at, never followed.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isAt = (path: string, identity: Identity, check?: (stats: fs.Stats) => boolean): boolean => {
  const now = nodeFs.lstatSync(path, { throwIfNoEntry: false })
  return now !== undefined && isSame(now, identity) && (check?.(now) ?? true)
}

/**
 * Removes `path` only while it still names the file `identity`: a file
 * that has been replaced since is someone else's.
 *
 * @since 0.1.0
 * @category mutations
 */
export const removeIfAt = (path: string, identity: Identity, check?: (stats: fs.Stats) => boolean): void => {
  try {
    if (isAt(path, identity, check)) nodeFs.unlinkSync(path)
  } catch {
    // Gone already: nothing to remove.
  }
}

/**
 * This process's user id; `undefined` where the system has none (Windows).
 *
 * @since 0.2.0
 * @category constants
 */
const ownUid: number | undefined = process.getuid?.()

/**
 * Whether the file belongs to this process's user. Everything does where
 * files have no owner id (Windows).
 *
 * @since 0.2.0
 * @category predicates
 */
export const isOwnedByUs = (stats: fs.Stats): boolean => ownUid === undefined || stats.uid === ownUid

/**
 * Whether the file belongs to this process's user or to root (who can do
 * anything anyway): the owners trusted with a directory our socket lives in.
 *
 * @since 0.2.0
 * @category predicates
 */
export const isOwnedByUsOrRoot = (stats: fs.Stats): boolean => isOwnedByUs(stats) || stats.uid === 0

/**
 * What a file that is not a socket is, in words for an error message.
 *
 * @since 0.2.0
 * @category formatting
 */
export const kindOf = (stats: fs.Stats): string =>
  stats.isSymbolicLink() ? "a symbolic link" : stats.isDirectory() ? "a directory" : stats.isFile() ? "a regular file" : "not a socket"
