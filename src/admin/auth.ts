// Admin authentication (docs/design.md §4 item 18): `Authorization: Bearer <key>` or
// `Basic base64(admin:<key>)`, any of several configured keys (rotation), compared in constant
// time. No key configured means the admin API is off.
import { createHash, timingSafeEqual } from 'node:crypto'

const digest = (s: string): Buffer => createHash('sha256').update(s).digest()

export class AdminAuth {
  readonly #keys: readonly Buffer[]

  constructor(keys: readonly string[]) {
    this.#keys = keys.filter((k) => k.length > 0).map(digest)
  }

  get enabled(): boolean {
    return this.#keys.length > 0
  }

  /** True when the header carries a configured key. */
  check(authorization: string | undefined): boolean {
    if (!authorization || this.#keys.length === 0) return false
    const key = extractKey(authorization)
    if (key === null) return false
    // Hashing first makes every comparison the same length; check every key to keep timing flat.
    const given = digest(key)
    let ok = false
    for (const k of this.#keys) ok = timingSafeEqual(k, given) || ok
    return ok
  }
}

function extractKey(header: string): string | null {
  const space = header.indexOf(' ')
  if (space < 0) return null
  const scheme = header.slice(0, space).toLowerCase()
  const value = header.slice(space + 1).trim()
  if (scheme === 'bearer') return value
  if (scheme === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    if (colon < 0 || decoded.slice(0, colon) !== 'admin') return null
    return decoded.slice(colon + 1)
  }
  return null
}
