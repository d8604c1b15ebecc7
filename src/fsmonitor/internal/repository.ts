/**
 * Where Git's fsmonitor daemon listens for a worktree, found as Git finds
 * it: `<git-dir>/fsmonitor--daemon.ipc`, unless the git directory is on a
 * network file system (where a socket cannot live), in which case
 * `<fsmonitor.socketDir or ~>/.git-fsmonitor-<SHA-1 of the worktree path>`.
 *
 * @since 0.2.0
 */
import { execFile } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"

/**
 * Linux `statfs` types Git counts as network file systems (its
 * `fsm-path-utils-linux.c`): CIFS, SMB, SMB2, NFS, NFSD, AFS, kAFS, Coda,
 * NCP, Ceph, Lustre, GFS, GPFS, OCFS2, PanFS, BeeGFS (FhGFS), IBRIX, SNFS,
 * VxFS, VMware HGFS, ACFS.
 */
const NETWORK_FILE_SYSTEMS = new Set([
  0xff534d42, 0x517b, 0xfe534d42, 0x6969, 0x6e667364, 0x5346414f, 0x6b414653, 0x73757245,
  0x564c, 0x00c36400, 0x0bd00bd0, 0x01161970, 0x47504653, 0x7461636f, 0xaad7aaea, 0x19830326,
  0x013111a8, 0xbeefdead, 0xa501fcf5, 0xbacbacbc, 0x61636673
])

/**
 * Whether `dir` is on a network file system, as far as `statfs` tells.
 * Only Linux's answer is read: elsewhere Node does not expose the mount
 * flags Git reads, and the caller says so with the `networkFileSystem`
 * option.
 */
export const onNetworkFileSystem = (dir: string): boolean => {
  if (process.platform !== "linux") return false
  try {
    return NETWORK_FILE_SYSTEMS.has(fs.statfsSync(dir).type >>> 0)
  } catch {
    return false
  }
}

/** A failed `git` run: its exit, or why it could not run. */
export interface GitFailure {
  readonly args: ReadonlyArray<string>
  readonly message: string
  readonly cause: unknown
}

/** Runs `git -C <cwd> <args>`; answers its standard output, or the failure. */
export const git = (
  executable: string,
  cwd: string,
  args: ReadonlyArray<string>,
  signal?: AbortSignal
): Promise<{ readonly ok: true; readonly stdout: string } | { readonly ok: false; readonly failure: GitFailure }> =>
  new Promise((resolve) => {
    execFile(executable, ["-C", cwd, ...args], { encoding: "utf8", ...(signal ? { signal } : {}) }, (error, stdout, stderr) => {
      if (error === null) return resolve({ ok: true, stdout })
      const said = stderr.trim()
      resolve({ ok: false, failure: { args, message: said === "" ? error.message : said, cause: error } })
    })
  })

/** `~` or `~/…` as Git's `interpolate_path` expands it: the home directory. */
export const expandHome = (path: string): string =>
  path === "~" ? os.homedir() : path.startsWith("~/") ? nodePath.join(os.homedir(), path.slice(2)) : path

/**
 * The socket Git uses for a repository whose git directory is on a network
 * file system: in `socketDir` (or the home directory), named after the
 * SHA-1 of the worktree's path.
 */
export const networkSocketPath = (worktree: string, socketDir: string | undefined): string => {
  const hash = createHash("sha1").update(worktree).digest("hex")
  const dir = socketDir === undefined || socketDir === "" ? "~" : socketDir
  return expandHome(`${dir}/.git-fsmonitor-${hash}`)
}
