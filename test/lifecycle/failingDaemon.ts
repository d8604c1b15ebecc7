/**
 * Daemons that fail on purpose, for the start-failure tests:
 * `node failingDaemon.ts <how> <socket path> <marker directory>`.
 *
 * - `exit`: writes 30 numbered lines and a last word on stderr, exits 3;
 * - `signal`: writes a line, then kills itself with SIGKILL;
 * - `hang`: writes a line and never listens;
 * - `serve`: serves at the socket path; if it cannot, writes the error on
 *   stderr and exits 1, as a real daemon does.
 *
 * The marker directory is only on the command line, so that a test can find
 * (and kill) its daemons, which are detached.
 */
const [how, path] = [process.argv[2], process.argv[3]!]

switch (how) {
  case "exit": {
    for (let i = 1; i <= 30; i++) process.stderr.write(`starting step ${i}\n`)
    process.stderr.write("fatal: the configuration file is missing\n")
    process.exitCode = 3
    break
  }
  case "signal": {
    process.stderr.write("about to be killed\n")
    process.kill(process.pid, "SIGKILL")
    break
  }
  case "hang": {
    process.stderr.write("waiting for a lock that never comes\n")
    setInterval(() => {}, 60_000)
    break
  }
  case "serve": {
    // Imported here only: the other daemons say their piece at once.
    const { runAndExit } = await import("../support/runAndExit.ts")
    const Server = await import("../../src/server/Server.ts")
    const TestApplication = await import("../../src/testing/TestApplication.ts")
    runAndExit(Server.run(path, TestApplication.handler))
    break
  }
}
