/**
 * Wire vectors recorded from Git's own C implementation of Simple IPC
 * (see test/vectors/README.md for how they were made).
 */
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../vectors/", import.meta.url))

export interface ServerCase {
  readonly name: string
  readonly request: Uint8Array
  readonly clientHalfCloses: boolean
  readonly response: Uint8Array
  readonly serverClosedConnection: boolean
}

export interface ClientCase {
  readonly name: string
  readonly response: Uint8Array
  readonly stdout: Uint8Array
  readonly stderr: string
  readonly exit: number
}

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, "hex"))

export const serverCases: ReadonlyArray<ServerCase> = (JSON.parse(
  readFileSync(root + "server-cases.json", "utf8")
) as Array<Record<string, unknown>>).map((c) => ({
  name: c.name as string,
  request: hex(c.requestHex as string),
  clientHalfCloses: c.clientHalfCloses as boolean,
  response: hex(c.responseHex as string),
  serverClosedConnection: c.serverClosedConnection as boolean
}))

export const clientCases: ReadonlyArray<ClientCase> = (JSON.parse(
  readFileSync(root + "client-cases.json", "utf8")
) as Array<Record<string, unknown>>).map((c) => ({
  name: c.name as string,
  response: hex(c.responseHex as string),
  stdout: hex(c.stdoutHex as string),
  stderr: c.stderr as string,
  exit: c.exit as number
}))

export const transcriptNames = [
  "ping",
  "big",
  "chunk",
  "sendbytes-100000-A",
  "unhandled-nosuchcommand",
  "no-command"
] as const

export const transcript = (name: (typeof transcriptNames)[number]) => ({
  request: new Uint8Array(readFileSync(`${root}transcripts/${name}.request.bin`)),
  response: new Uint8Array(readFileSync(`${root}transcripts/${name}.response.bin`))
})
