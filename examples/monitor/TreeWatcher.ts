/**
 * Watches a directory tree and reports every path that changes under it,
 * relative to the root.
 *
 * One non-recursive `fs.watch` per directory, rather than
 * `fs.watch(root, { recursive: true })`: on Linux Node emulates the
 * recursive form with a watch per file and a re-read of the directory on
 * each event, and misses a file that is created and renamed away before the
 * re-read. A directory watch reports every name that changes in it, from
 * the event itself.
 */
import { Effect, Schema, type Scope } from "effect"
import * as fs from "node:fs"
import * as nodePath from "node:path"

/** The root could not be watched. */
export class WatchError extends Schema.TaggedError<WatchError>()("WatchError", {
  root: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `cannot watch '${this.root}': ${this.detail}`
  }
}

export interface Listener {
  /** A path changed (created, modified, deleted, renamed from or to). */
  readonly onChange: (path: string) => void
  /** Changes may have been missed (a watch failed, or the root went away). */
  readonly onLost: (reason: string) => void
}

interface Watched {
  readonly watcher: fs.FSWatcher
  readonly ino: number
}

const join = (dir: string, name: string) => dir === "" ? name : `${dir}/${name}`

const lstat = (path: string): fs.Stats | undefined => {
  try {
    return fs.lstatSync(path)
  } catch {
    return undefined
  }
}

/** Watches `root` for the life of the scope. */
export const watch = (root: string, listener: Listener): Effect.Effect<void, WatchError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      // The real path: a root reached through a symbolic link is watched
      // as the directory it names.
      try: () => start(fs.realpathSync(root), listener),
      catch: (error) => new WatchError({ root, detail: (error as Error).message })
    }),
    (close) => Effect.sync(close)
  ).pipe(Effect.asVoid)

/** Starts watching; returns the function that stops. Throws if the root cannot be watched. */
const start = (root: string, listener: Listener): () => void => {
  // Watched directories by path relative to the root ("" is the root).
  const watched = new Map<string, Watched>()
  const absolute = (path: string) => path === "" ? root : nodePath.join(root, ...path.split("/"))

  const unwatch = (dir: string) => {
    for (const [path, entry] of watched) {
      if (path === dir || (dir === "" ? true : path.startsWith(`${dir}/`))) {
        entry.watcher.close()
        watched.delete(path)
      }
    }
  }

  /**
   * Watches `dir` and the directories below it. A directory that appears
   * after the root was watched may have been filled before its watch
   * existed, so its contents are reported (`report`).
   */
  const watchDir = (dir: string, report: boolean) => {
    const stats = lstat(absolute(dir))
    if (stats === undefined || !stats.isDirectory()) return
    let watcher: fs.FSWatcher
    try {
      watcher = fs.watch(absolute(dir), { persistent: false }, (_event, name) => onEvent(dir, watcher, name))
    } catch (error) {
      // Out of watches (ENOSPC), say: what happens below `dir` goes unseen.
      if (dir === "") throw error
      if (lstat(absolute(dir))?.isDirectory()) listener.onLost(`cannot watch '${dir}': ${(error as Error).message}`)
      return
    }
    watcher.on("error", (error) => onWatchError(dir, watcher, error))
    watched.set(dir, { watcher, ino: stats.ino })
    let entries: Array<fs.Dirent> = []
    try {
      entries = fs.readdirSync(absolute(dir), { withFileTypes: true })
    } catch {
      // Removed meanwhile: its parent reports that.
    }
    for (const entry of entries) {
      const path = join(dir, entry.name)
      if (report) listener.onChange(path)
      if (entry.isDirectory()) watchDir(path, report)
    }
  }

  const onEvent = (dir: string, watcher: fs.FSWatcher, name: string | Buffer | null) => {
    // Events of a watch already replaced or closed (the directory moved
    // away) would carry wrong paths.
    if (watched.get(dir)?.watcher !== watcher) return
    if (name === null) return listener.onLost(`an event without a file name in '${dir || "."}'`)
    // A watched directory that is deleted or moved reports itself under its
    // own name; that is not a change of an entry inside it.
    if (selfEvent(dir, name.toString())) {
      unwatch(dir)
      if (dir === "") return listener.onLost("the root was removed or moved")
      return listener.onChange(dir)
    }
    const path = join(dir, name.toString())
    listener.onChange(path)
    const now = lstat(absolute(path))
    const current = watched.get(path)
    if (current !== undefined && (now === undefined || !now.isDirectory() || now.ino !== current.ino)) unwatch(path)
    if (now?.isDirectory() && !watched.has(path)) watchDir(path, true)
  }

  const selfEvent = (dir: string, name: string): boolean => {
    if (name !== nodePath.basename(absolute(dir))) return false
    const now = lstat(absolute(dir))
    return now === undefined || now.ino !== watched.get(dir)?.ino
  }

  const onWatchError = (dir: string, watcher: fs.FSWatcher, error: Error) => {
    if (watched.get(dir)?.watcher !== watcher) return
    unwatch(dir)
    if (dir === "") listener.onLost(`the root's watch failed: ${error.message}`)
    else if (lstat(absolute(dir))?.isDirectory()) listener.onLost(`the watch of '${dir}' failed: ${error.message}`)
  }

  if (!fs.statSync(root).isDirectory()) throw new Error("not a directory")
  watchDir("", false)
  return () => unwatch("")
}
