// ECDSA verification through node:crypto (OpenSSL) with one cached KeyObject per public key and
// `dsaEncoding: 'ieee-p1363'` (64-byte r||s). OpenSSL hashes the message itself (sha-256) and
// ACCEPTS high-S signatures, so callers must run isCanonicalCompactSignature first. This is the
// p256 path and the k256 fallback when libsecp256k1 does not load. It cannot verify a bare
// digest (node:crypto has no prehashed ECDSA verify): see noble-ecdsa.ts for that.

import { createPublicKey, type KeyObject, verify } from 'node:crypto'
import { CURVES } from './curves.ts'
import type { PublicKey } from './keys.ts'

interface NodeVerifyKey {
  readonly key: KeyObject
  readonly dsaEncoding: 'ieee-p1363'
}

// Keyed by the PublicKey object: keys come from the bounded parse cache (or the caller's own
// identity cache), so a KeyObject lives exactly as long as someone still holds its key.
const keyObjects = new WeakMap<PublicKey, NodeVerifyKey>()

function verifyKeyFor(key: PublicKey): NodeVerifyKey {
  let prepared = keyObjects.get(key)
  if (prepared === undefined) {
    const prefix = CURVES[key.curve].spkiPrefix
    const der = Buffer.allocUnsafe(prefix.length + key.compressed.length)
    der.set(prefix)
    der.set(key.compressed, prefix.length)
    const keyObject = createPublicKey({ key: der, format: 'der', type: 'spki' })
    prepared = { key: keyObject, dsaEncoding: 'ieee-p1363' }
    keyObjects.set(key, prepared)
  }
  return prepared
}

/** sha-256 of `message`, then ECDSA verify of a 64-byte r||s signature. Never throws. */
export function nodeVerifyMessage(key: PublicKey, message: Uint8Array, sig: Uint8Array): boolean {
  try {
    return verify('sha256', message, verifyKeyFor(key), sig)
  } catch {
    return false
  }
}
