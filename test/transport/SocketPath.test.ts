/**
 * The named pipe a socket path maps to on Windows (SPEC §3.5). Pure
 * string mapping: it runs on every platform; no pipe is opened.
 */
import { assert, describe, it } from "@effect/vitest"
import { windowsPipeName } from "../../src/transport/SocketPath.ts"

describe("windowsPipeName", () => {
  const cases: ReadonlyArray<readonly [string, string, string, string]> = [
    ["an absolute path with a drive", "C:\\Users\\me\\ipc", "D:\\elsewhere", "\\\\.\\pipe\\C_\\Users\\me\\ipc"],
    ["forward slashes", "C:/Users/me/ipc", "D:\\elsewhere", "\\\\.\\pipe\\C_\\Users\\me\\ipc"],
    ["mixed slashes", "C:/Users\\me/.git/fsmonitor--daemon.ipc", "D:\\", "\\\\.\\pipe\\C_\\Users\\me\\.git\\fsmonitor--daemon.ipc"],
    ["a lower-case drive keeps its case", "c:\\repo\\ipc", "D:\\", "\\\\.\\pipe\\c_\\repo\\ipc"],
    ["a relative name, against the working directory", "ipc-test", "D:\\projects\\repo", "\\\\.\\pipe\\D_\\projects\\repo\\ipc-test"],
    ["a relative path with forward slashes", ".git/ipc", "D:/projects/repo", "\\\\.\\pipe\\D_\\projects\\repo\\.git\\ipc"],
    ["a relative path going up", "..\\other\\ipc", "D:\\projects\\repo", "\\\\.\\pipe\\D_\\projects\\other\\ipc"],
    ["a path from the root of the current drive", "\\ipc", "E:\\projects", "\\\\.\\pipe\\E_\\ipc"],
    ["dot segments and a trailing slash", "C:\\a\\.\\b\\..\\c\\", "D:\\", "\\\\.\\pipe\\C_\\a\\c"],
    ["only the drive's colon changes", "C:\\odd:name", "D:\\", "\\\\.\\pipe\\C_\\odd:name"],
    ["a UNC path", "\\\\server\\share\\ipc", "D:\\", "\\\\.\\pipe\\\\\\server\\share\\ipc"]
  ]
  for (const [name, path, cwd, pipe] of cases) {
    it(`${name}: ${path} (in ${cwd})`, () => {
      assert.strictEqual(windowsPipeName(path, cwd), pipe)
    })
  }

  it("the same path gives the same pipe whatever the spelling", () => {
    const spellings = ["C:\\repo\\ipc", "C:/repo/ipc", "C:\\repo\\sub\\..\\ipc", "ipc"]
    const pipes = new Set(spellings.map((path) => windowsPipeName(path, "C:\\repo")))
    assert.deepStrictEqual([...pipes], ["\\\\.\\pipe\\C_\\repo\\ipc"])
  })
})
