// SEC1 public-key points on k256 and p256: checks that bytes encode a point on the curve (not the
// point at infinity) and converts between compressed (33 bytes, 0x02/0x03) and uncompressed
// (65 bytes, 0x04) forms. Uses @noble/curves' field arithmetic; runs once per distinct key (the
// callers cache), so speed does not matter here. Does not accept the hybrid 0x06/0x07 forms or
// raw 64-byte x||y, and does not know about multicodec or multibase wrappers.

import { p256 } from '@noble/curves/nist.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import type { Curve } from './curves.ts'

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
  return decodePoint(curve, bytes)?.toBytes(true)
}

/** Returns the 65-byte uncompressed form of a valid point, or `undefined` when invalid. */
export function decompressPoint(curve: Curve, bytes: Uint8Array): Uint8Array | undefined {
  return decodePoint(curve, bytes)?.toBytes(false)
}
