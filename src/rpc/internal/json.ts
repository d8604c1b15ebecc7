/**
 * Guards for JSON that comes from the other end of a socket.
 */

/**
 * How deeply the JSON of a message may nest (arrays and objects) to be
 * decoded. Decoding a recursive schema takes stack for every level: a
 * message nested ten thousand deep would exhaust it.
 */
export const maxJsonDepth = 512

/**
 * Whether JSON text nests arrays and objects more than `max` deep. A scan
 * of the text, brackets inside strings aside; text too short to nest that
 * deep is not scanned.
 */
export const nestsDeeperThan = (text: string, max: number): boolean => {
  if (text.length <= max) return false
  let depth = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++ // a backslash escapes the next character
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      inString = true
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }
  return false
}

/**
 * `text` as it may be echoed in an error: at most `max` characters, the
 * length said when it is cut, so that a message cannot make its error
 * reply as large as itself.
 */
export const clip = (text: string, max: number): string =>
  text.length > max ? `${text.slice(0, max)}… (${text.length} characters)` : text
