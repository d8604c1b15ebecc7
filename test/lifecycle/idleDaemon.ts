/**
 * A daemon for the idle-shutdown test: serves `ping` at argv[2] and stops
 * by itself after argv[3] milliseconds without a request, exiting 0.
 */
import { Duration } from "effect"
import * as Server from "../../src/server/Server.ts"
import { runAndExit } from "../support/runAndExit.ts"

const [path, idleMs] = [process.argv[2]!, Number(process.argv[3])]

runAndExit(
  Server.run(path, (request, reply) => reply(new TextDecoder().decode(request) === "ping" ? "pong" : "?"), {
    idleShutdown: Duration.millis(idleMs)
  })
)
