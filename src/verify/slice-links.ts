// Which CID links of decoded MST nodes point at blocks of a CAR slice. Most subtree links of the
// nodes a commit carries point at subtrees it did not touch, which are not in the slice; making
// each link's base32 string just to miss in the block map was a measurable part of the shape
// check. Here the slice's CIDs are indexed by 48 bits of their digest (read from the base32 key),
// so a decoded link (binary) that matches no block is answered without a string; one that
// matches is confirmed against the full CID string.
// Deliberately not done here: anything about what the blocks contain.
import { type CidLink, CidLinkWrapper } from '@atcute/cbor'

const AMBIGUOUS = ''

/** base32 (RFC 4648, lowercase) digit values by char code; -1 for anything else. */
const DIGITS = (() => {
  const t = new Int8Array(128).fill(-1)
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  for (let i = 0; i < 32; i++) t[alphabet.charCodeAt(i)] = i
  return t
})()

/** Digest bytes 0-5 (CID bytes 4-9) of a binary CIDv1 sha-256 as a number. */
function keyOfBytes(b: Uint8Array): number {
  const high = ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0
  return high * 0x10000 + ((b[8]! << 8) | b[9]!)
}

/** The same bits from a base32 CID string ("b" + 36 bytes): CID bits 30-79 are its base32
 * digits 6-15; drop the top two. Null when the string is not of that form. */
function keyOfString(cid: string): number | null {
  if (cid.length !== 59 || cid.charCodeAt(0) !== 0x62) return null
  let v = 0
  for (let j = 6; j <= 15; j++) {
    const c = cid.charCodeAt(1 + j)
    const d = c < 128 ? DIGITS[c]! : -1
    if (d < 0) return null
    v = v * 32 + d
  }
  return v % 2 ** 48
}

export class SliceLinks {
  readonly #blocks: ReadonlyMap<string, Uint8Array>
  readonly #byKey = new Map<number, string>()
  /** False when some block's CID could not be indexed: then every lookup uses strings. */
  readonly #complete: boolean

  constructor(blocks: ReadonlyMap<string, Uint8Array>) {
    this.#blocks = blocks
    let complete = true
    for (const cid of blocks.keys()) {
      const key = keyOfString(cid)
      if (key === null) {
        complete = false
        break
      }
      this.#byKey.set(key, this.#byKey.has(key) ? AMBIGUOUS : cid)
    }
    this.#complete = complete
  }

  /** The CID string of `link` when the slice has its block, else undefined. */
  find(link: CidLink): string | undefined {
    if (this.#complete && link instanceof CidLinkWrapper && link.bytes.length === 36) {
      const candidate = this.#byKey.get(keyOfBytes(link.bytes))
      if (candidate === undefined) return undefined
      if (candidate !== AMBIGUOUS && link.$link === candidate) return candidate
    }
    const cid = link.$link
    return this.#blocks.has(cid) ? cid : undefined
  }
}
