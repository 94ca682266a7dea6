// ECDSA verification through node:crypto (OpenSSL) with one cached KeyObject per public key. The
// 64-byte r||s signature is re-encoded as DER here rather than passed with `dsaEncoding:
// 'ieee-p1363'`: for that option Node converts the signature itself and, to learn the curve's
// size, rebuilds the key's legacy form, decompressing its point (a modular square root) on every
// call. Measured on the dev box (Node 24, OpenSSL 3.5, p256, cached KeyObject): 115–122 µs per
// verify with `ieee-p1363`, 67–69 µs with the DER written here. OpenSSL hashes the message itself
// (sha-256) and ACCEPTS high-S signatures, so callers must run isCanonicalCompactSignature first.
// This is the p256 path and the k256 fallback when libsecp256k1 does not load. It cannot verify
// a bare digest (node:crypto has no prehashed ECDSA verify): see noble-ecdsa.ts for that.

import { type KeyObject, verify } from 'node:crypto'
import { COMPACT_SIGNATURE_LENGTH } from './compact-signature.ts'
import type { PublicKey } from './keys.ts'
import { compressedKeyObject } from './point.ts'

// Keyed by the PublicKey object: keys come from the bounded parse cache (or the caller's own
// identity cache), so a KeyObject lives exactly as long as someone still holds its key.
const keyObjects = new WeakMap<PublicKey, KeyObject>()

function keyObjectFor(key: PublicKey): KeyObject {
  let prepared = keyObjects.get(key)
  if (prepared === undefined) {
    prepared = compressedKeyObject(key.curve, key.compressed)
    keyObjects.set(key, prepared)
  }
  return prepared
}

/** sha-256 of `message`, then ECDSA verify of a 64-byte r||s signature. Never throws. */
export function nodeVerifyMessage(key: PublicKey, message: Uint8Array, sig: Uint8Array): boolean {
  if (sig.length !== COMPACT_SIGNATURE_LENGTH) return false
  try {
    return verify('sha256', message, keyObjectFor(key), compactToDer(sig))
  } catch {
    return false
  }
}

const HALF = COMPACT_SIGNATURE_LENGTH / 2
const DER_SEQUENCE = 0x30
const DER_INTEGER = 0x02

/**
 * The DER form (SEQUENCE of two INTEGERs) of a 64-byte compact r||s signature: each half loses
 * its leading zero bytes and gains one 0x00 when its top bit is set, since DER integers are
 * signed and minimal. A half that is all zeros becomes the single byte 0x00 (the shape rules
 * refuse such signatures before this runs, and OpenSSL would refuse it anyway). At most 72 bytes,
 * so every length fits in one byte.
 */
export function compactToDer(sig: Uint8Array): Uint8Array {
  const rStart = firstSignificant(sig, 0)
  const sStart = firstSignificant(sig, HALF)
  const rPad = sig[rStart]! & 0x80 ? 1 : 0
  const sPad = sig[sStart]! & 0x80 ? 1 : 0
  const rLen = HALF - rStart + rPad
  const sLen = COMPACT_SIGNATURE_LENGTH - sStart + sPad
  const out = new Uint8Array(6 + rLen + sLen)
  out[0] = DER_SEQUENCE
  out[1] = 4 + rLen + sLen
  out[2] = DER_INTEGER
  out[3] = rLen
  out.set(sig.subarray(rStart, HALF), 4 + rPad)
  const s = 4 + rLen
  out[s] = DER_INTEGER
  out[s + 1] = sLen
  out.set(sig.subarray(sStart), s + 2 + sPad)
  return out
}

/** Index of the first non-zero byte of the 32-byte half at `offset`, keeping its last byte. */
function firstSignificant(sig: Uint8Array, offset: number): number {
  let i = offset
  while (i < offset + HALF - 1 && sig[i] === 0) i++
  return i
}
