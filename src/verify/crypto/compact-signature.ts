// The shape rules atproto puts on an ECDSA signature before any curve arithmetic: exactly 64
// bytes of compact r||s (so DER, recoverable 65-byte and empty signatures are out), 0 < r < n,
// and low-S: 0 < s <= floor(n/2), on BOTH curves. Every backend runs this first, so they all
// refuse the same malformed inputs whatever their own parsers would tolerate (OpenSSL accepts
// high-S; libsecp256k1 rejects it but reports r >= n as a parse error). Byte comparisons, no
// BigInt, because this runs once per verified commit. Does not check the signature itself.

import type { Curve } from './curves.ts'
import { CURVES } from './curves.ts'

export const COMPACT_SIGNATURE_LENGTH = 64

/** True when `sig` is 64 bytes of r||s with r in [1, n-1] and s in [1, n/2]. */
export function isCanonicalCompactSignature(curve: Curve, sig: Uint8Array): boolean {
  if (sig.length !== COMPACT_SIGNATURE_LENGTH) return false
  const params = CURVES[curve]
  if (isZero32(sig, 0) || compare32(sig, 0, params.order) >= 0) return false
  if (isZero32(sig, 32) || compare32(sig, 32, params.halfOrder) > 0) return false
  return true
}

/** Compares the 32 big-endian bytes of `a` at `offset` with the 32 bytes of `b`. */
function compare32(a: Uint8Array, offset: number, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) {
    const d = a[offset + i]! - b[i]!
    if (d !== 0) return d
  }
  return 0
}

function isZero32(a: Uint8Array, offset: number): boolean {
  for (let i = 0; i < 32; i++) if (a[offset + i] !== 0) return false
  return true
}
