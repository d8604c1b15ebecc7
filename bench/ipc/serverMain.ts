/**
 * Entry point shared by the pkt-line server scripts: `node <script>
 * <socketPath>`. A server script supplies only a {@link Serve} function that
 * serves the benchmark application with its implementation.
 */
import { benchApp, type AppHandler } from "./app.ts"

/**
 * Starts a server on `socketPath` (listen backlog 50) that passes every
 * well-formed request to `app`, sends its reply calls as data packets, then
 * a flush, then closes the connection, and stops accepting once `app`
 * answers `"quit"`. Resolves once listening; `closed` settles when the server
 * has shut down.
 */
export type Serve = (socketPath: string, app: AppHandler) => Promise<{ readonly closed: Promise<void> }>

/** Runs a server script: serves `app` (default {@link benchApp}) on `argv[0]` until `quit` or SIGTERM. */
export const serverMain = async (
  serve: Serve,
  argv: ReadonlyArray<string> = process.argv.slice(2),
  app: AppHandler = benchApp
): Promise<void> => {
  const socketPath = argv[0]
  if (socketPath === undefined) {
    console.error("usage: node <server script> <socketPath>")
    process.exit(2)
  }
  // The harness stops servers with SIGTERM; exit at once and cleanly. It
  // removes the socket's directory itself, so nothing else needs undoing.
  process.on("SIGTERM", () => process.exit(0))
  const { closed } = await serve(socketPath, app)
  await closed
  process.exit(0)
}
