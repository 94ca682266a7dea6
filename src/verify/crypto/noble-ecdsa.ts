// ECDSA verification of a precomputed 32-byte digest with @noble/curves (pure JS). Slow
// (~1,000 k256 / ~600 p256 verifications/s) and used only where neither libsecp256k1 nor
// node:crypto can help: `verifyDigest` on p256 and on the k256 fallback. Shape and low-S rules
// are the caller's (compact-signature.ts); this only does the curve arithmetic.

import { p256 } from '@noble/curves/nist.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import type { PublicKey } from './keys.ts'

const ECDSA = { k256: secp256k1, p256 } as const
const OPTIONS = { prehash: false, lowS: false, format: 'compact' } as const

/** Verifies a 64-byte r||s signature over a 32-byte digest. Never throws. */
export function nobleVerifyDigest(key: PublicKey, digest: Uint8Array, sig: Uint8Array): boolean {
  try {
    return ECDSA[key.curve].verify(sig, digest, key.compressed, OPTIONS)
  } catch {
    return false
  }
}
