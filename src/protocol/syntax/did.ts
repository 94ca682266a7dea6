// DID syntax as atproto restricts it (https://atproto.com/specs/did): `did:<method>:<id>` where
// the method is lowercase a-z, the identifier uses only ASCII letters, digits and `._:%-` and
// does not end in `:` or `%`, and the whole string is at most 2048 characters. Also: the
// did:plc shape (24 base32 characters) and decoding a did:web host.
// Deliberately not checked: whether the method is one atproto supports (plc, web) — callers
// decide that — and percent-encoding inside the generic identifier (the spec does not require
// it; `didWebHost` is stricter). No resolution, no I/O.

import {
  ALNUM,
  CHAR_CLASS,
  COLON,
  classAt,
  DOT,
  HYPHEN,
  LOWER,
  PERCENT,
  UNDERSCORE,
} from './ascii-class.ts'
import { InvalidSyntaxError } from './errors.ts'

export const DID_MAX_LENGTH = 2048

const ID_CHARS = ALNUM | DOT | UNDERSCORE | COLON | PERCENT | HYPHEN
const C_COLON = 0x3a
const C_PERCENT = 0x25

/** The method of a valid DID: `'plc'`, `'web'` or any other lowercase method name. */
export type DidMethod = 'plc' | 'web' | (string & {})

// The fast path is one precompiled regex (measured faster than a char-code loop for DIDs in V8;
// see tid.bench.ts); `didProblem` below applies the same rules by hand to explain a rejection.
// did.test.ts checks the two agree.
const DID_RE = /^did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]$/

export function isValidDid(s: string): boolean {
  return s.length <= DID_MAX_LENGTH && DID_RE.test(s)
}

export function assertDid(s: string): void {
  if (isValidDid(s)) return
  throw new InvalidSyntaxError('did', s, didProblem(s) ?? 'not a DID')
}

/** The method name of `did` (between `did:` and the next `:`); throws if `did` is not a DID. */
export function didMethod(did: string): DidMethod {
  assertDid(did)
  return did.slice(4, did.indexOf(':', 4))
}

const DID_PLC_RE = /^did:plc:[a-z2-7]{24}$/

/** `did:plc:` followed by exactly 24 characters of lowercase base32 (a-z, 2-7). */
export function isValidDidPlc(s: string): boolean {
  return s.length === 32 && DID_PLC_RE.test(s)
}

/**
 * The host (with `:port` when present) a did:web names, lowercased: `did:web:example.com` →
 * `example.com`, `did:web:localhost%3A1234` → `localhost:1234`. Throws `InvalidSyntaxError`
 * (kind `did`) for anything else, including path-based did:web (extra `:` segments), which
 * atproto does not support, and percent-escapes other than `%3A` before a port.
 * Whether the host is allowed (TLD policy, private addresses) is the caller's decision.
 */
export function didWebHost(did: string): string {
  assertDid(did)
  if (!did.startsWith('did:web:')) throw new InvalidSyntaxError('did', did, 'not a did:web')
  const rest = did.slice(8)
  if (rest.includes(':')) {
    throw new InvalidSyntaxError('did', did, 'path-based did:web is not supported')
  }
  const pct = rest.indexOf('%')
  let host = rest
  let port = ''
  if (pct !== -1) {
    if (rest.slice(pct, pct + 3).toUpperCase() !== '%3A') {
      throw new InvalidSyntaxError('did', did, 'did:web may only percent-encode the port colon')
    }
    host = rest.slice(0, pct)
    port = rest.slice(pct + 3)
    if (!isPort(port)) throw new InvalidSyntaxError('did', did, 'did:web port is not 1-65535')
  }
  if (!isHostname(host)) throw new InvalidSyntaxError('did', did, 'did:web host is not a hostname')
  host = host.toLowerCase()
  return port === '' ? host : `${host}:${port}`
}

/** Why `s` is not a DID, or undefined. Exported for the agreement test only. */
export function didProblem(s: string): string | undefined {
  const n = s.length
  if (n > DID_MAX_LENGTH) return `longer than ${DID_MAX_LENGTH} characters`
  // "did:" prefix, lowercase.
  if (
    n < 7 ||
    s.charCodeAt(0) !== 0x64 ||
    s.charCodeAt(1) !== 0x69 ||
    s.charCodeAt(2) !== 0x64 ||
    s.charCodeAt(3) !== C_COLON
  ) {
    return 'must start with "did:" and have a method and identifier'
  }
  let i = 4
  while (i < n && (CHAR_CLASS[s.charCodeAt(i)]! & LOWER) !== 0) i++
  if (i === 4) return 'method must be one or more lowercase letters'
  if (i >= n || s.charCodeAt(i) !== C_COLON)
    return 'method must be lowercase letters followed by ":"'
  const idStart = ++i
  if (idStart >= n) return 'identifier is empty'
  for (; i < n; i++) {
    if ((CHAR_CLASS[s.charCodeAt(i)]! & ID_CHARS) === 0) return 'disallowed character'
  }
  const last = s.charCodeAt(n - 1)
  if (last === C_COLON || last === C_PERCENT) return 'must not end in ":" or "%"'
  return undefined
}

function isPort(p: string): boolean {
  if (p.length === 0 || p.length > 5 || p.charCodeAt(0) === 0x30) return false
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i)
    if (c < 0x30 || c > 0x39) return false
  }
  return Number(p) <= 65535
}

/** DNS hostname: dot-separated labels of letters, digits and inner hyphens, 1-63 chars each. */
function isHostname(h: string): boolean {
  const n = h.length
  if (n === 0 || n > 253) return false
  let labelStart = 0
  for (let i = 0; i <= n; i++) {
    if (i === n || h.charCodeAt(i) === 0x2e) {
      const len = i - labelStart
      if (len === 0 || len > 63) return false
      if ((classAt(h, i - 1) & HYPHEN) !== 0) return false
      labelStart = i + 1
    } else {
      const cls = classAt(h, i)
      if ((cls & ALNUM) === 0 && !((cls & HYPHEN) !== 0 && i !== labelStart)) return false
    }
  }
  return true
}
