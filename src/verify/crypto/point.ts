// SEC1 public-key points on k256 and p256: checks that bytes encode a point on the curve (not the
// point at infinity) and converts between compressed (33 bytes, 0x02/0x03) and uncompressed
// (65 bytes, 0x04) forms. Does not accept the hybrid 0x06/0x07 forms or raw 64-byte x||y, and
// does not know about multicodec or multibase wrappers.
//
// Speed matters more than it seems: the callers cache parsed keys, but a relay sees far more
// accounts than any cache holds (each verify worker keeps 16,384 keys; the network has
// millions of accounts), so a key is parsed again wherever it is verified with (a verify worker
// or an account shard) for every key that thread has not seen lately. A compressed point (what
// did:key and Multikey carry) is therefore checked natively: libsecp256k1 for k256 (~6 µs),
// OpenSSL for p256 and for k256 without libsecp256k1 (~50–80 µs), where @noble/curves' field
// arithmetic took ~150 µs on either curve (2026-12-03, dev box). Uncompressed points, rare and
// only in legacy documents, keep @noble/curves, which checks y as well as x.
import { createPublicKey, type KeyObject } from 'node:crypto'
import { p256 } from '@noble/curves/nist.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { CURVES, type Curve } from './curves.ts'
import { loadNativeSecp256k1 } from './k256-native.ts'

const POINT = { k256: secp256k1.Point, p256: p256.Point } as const

function decodePoint(curve: Curve, bytes: Uint8Array) {
  const tag = bytes[0]
  const wellFormed =
    (bytes.length === 33 && (tag === 0x02 || tag === 0x03)) || (bytes.length === 65 && tag === 0x04)
  if (!wellFormed) return undefined
  try {
    const point = POINT[curve].fromBytes(bytes)
    point.assertValidity()
    return point
  } catch {
    return undefined
  }
}

/**
 * Returns the 33-byte compressed form of a valid point given compressed or uncompressed, or
 * `undefined` when the bytes are not a well-formed encoding of a point on `curve`.
 */
export function compressPoint(curve: Curve, bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length === 33 && (bytes[0] === 0x02 || bytes[0] === 0x03)) {
    return isCompressedPointOnCurve(curve, bytes) ? Uint8Array.from(bytes) : undefined
  }
  return decodePoint(curve, bytes)?.toBytes(true)
}

/** Whether the 33-byte compressed `bytes` name a point of `curve` (x < p with a square root). */
export function isCompressedPointOnCurve(curve: Curve, bytes: Uint8Array): boolean {
  if (curve === 'k256') {
    const native = loadNativeSecp256k1()
    if (native.ok && native.binding.publicKeyVerify !== undefined) {
      return native.binding.publicKeyVerify(bytes) === 0
    }
  }
  return opensslAcceptsCompressedPoint(curve, bytes)
}

/** The OpenSSL check alone (exported for the tests: k256 uses it only without libsecp256k1). */
export function opensslAcceptsCompressedPoint(curve: Curve, bytes: Uint8Array): boolean {
  try {
    compressedKeyObject(curve, bytes)
    return true
  } catch {
    return false
  }
}

/** OpenSSL's key for a 33-byte compressed point (wrapped as SPKI); throws when it is off the
 * curve. */
export function compressedKeyObject(curve: Curve, bytes: Uint8Array): KeyObject {
  const prefix = CURVES[curve].spkiPrefix
  const der = Buffer.allocUnsafe(prefix.length + bytes.length)
  der.set(prefix)
  der.set(bytes, prefix.length)
  return createPublicKey({ key: der, format: 'der', type: 'spki' })
}

/** The noble-only answer, kept for the tests that hold the native checks to it. */
export function compressPointWithNoble(curve: Curve, bytes: Uint8Array): Uint8Array | undefined {
  return decodePoint(curve, bytes)?.toBytes(true)
}

/** Returns the 65-byte uncompressed form of a valid point, or `undefined` when invalid. */
export function decompressPoint(curve: Curve, bytes: Uint8Array): Uint8Array | undefined {
  return decodePoint(curve, bytes)?.toBytes(false)
}
