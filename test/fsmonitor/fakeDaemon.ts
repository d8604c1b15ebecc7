/**
 * A stand-in for `git fsmonitor--daemon`, for the tests of starting one:
 * serves our server side at argv[2] with a journal holding one batch
 * (`started.txt`), until a client sends quit.
 */
import { Effect } from "effect"
import * as Fsmonitor from "../../src/fsmonitor/Fsmonitor.ts"
import * as Server from "../../src/server/Server.ts"

if (import.meta.main) {
  const journal = Fsmonitor.makeJournal()
  await Effect.runPromise(
    Effect.andThen(journal.record(["started.txt"]), Server.run(process.argv[2]!, Fsmonitor.handler(journal)))
  )
}
