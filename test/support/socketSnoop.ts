/**
 * Another user trying to reach a server's socket before it is private: run
 * as a different uid, watches the directory argv[2] and tries to connect to
 * every name that appears in it, and into every directory that appears
 * (at the name a socket in it would predictably have, and at whatever a
 * listing shows). Prints `watching` once it watches, then one line per
 * attempt: `<outcome> <name>`, the outcome being `connected` or the errno.
 * Node built-ins only, so that it needs nothing the other user cannot read.
 */
import * as fs from "node:fs"
import * as net from "node:net"
import * as nodePath from "node:path"

const directory = process.argv[2]!
const report = (outcome: string, name: string) => process.stdout.write(`${outcome} ${name}\n`)

/**
 * A socket that refuses may be bound but not yet listening: it is tried
 * again at once, a few hundred times, so that the moment it listens is not
 * missed.
 */
const attempt = (name: string, tries = 300) => {
  const socket = net.connect(nodePath.join(directory, name))
  socket.on("connect", () => {
    report("connected", name)
    socket.destroy()
  })
  socket.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "ECONNREFUSED" && tries > 1) attempt(name, tries - 1)
    else report(error.code ?? "error", name)
  })
}

const look = (name: string) => {
  // Connecting first, looking after: the sooner, the likelier to win a race.
  attempt(name)
  let stats: fs.Stats
  try {
    stats = fs.lstatSync(nodePath.join(directory, name))
  } catch {
    return
  }
  if (!stats.isDirectory()) return
  attempt(nodePath.join(name, name))
  try {
    for (const inner of fs.readdirSync(nodePath.join(directory, name))) attempt(nodePath.join(name, inner))
  } catch (error) {
    report(`list-${(error as NodeJS.ErrnoException).code}`, name)
  }
}

fs.watch(directory, (_event, name) => {
  if (name !== null) look(name)
})
process.stdout.write("watching\n")
