// Test and bench support, never production: k256 / p256 signing keypairs that produce what an
// atproto PDS produces (64-byte compact r||s, low-S normalised, over sha-256 of the message),
// with the public key in every published form (PublicKey, did:key, Multikey). Random keys, or
// deterministic ones from a seed so fixtures and benches are reproducible. Uses @noble/curves
// (RFC 6979 deterministic nonces). Does not protect the private key in any way.

import { p256 } from '@noble/curves/nist.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { sha256 } from '@noble/hashes/sha2.js'
import type { Curve, PublicKey } from '../../src/verify/crypto/keys.ts'
import { formatMultikey, parseMultikey } from '../../src/verify/crypto/keys.ts'
import { compressPointWithNoble } from '../../src/verify/crypto/point.ts'

export interface TestKeypair {
  readonly curve: Curve
  readonly privateKey: Uint8Array
  readonly publicKey: PublicKey
  readonly didKey: string
  /** Multikey form (`z…`), as in a DID document's `publicKeyMultibase`. */
  readonly publicKeyMultibase: string
  /** 64-byte compact low-S signature over sha-256(message). */
  sign(message: Uint8Array): Uint8Array
  /** 64-byte compact low-S signature over a 32-byte digest, no further hashing. */
  signDigest(digest: Uint8Array): Uint8Array
}

const ECDSA = { k256: secp256k1, p256 } as const

/** A fresh random keypair. */
export function generateKeypair(curve: Curve): TestKeypair {
  return keypairFromPrivateKey(curve, ECDSA[curve].utils.randomSecretKey())
}

/** The same seed and curve always give the same keypair. Any seed length works. */
export function keypairFromSeed(curve: Curve, seed: Uint8Array): TestKeypair {
  const label = new TextEncoder().encode(`relay-test-keypair/${curve}/`)
  for (let counter = 0; ; counter++) {
    const input = new Uint8Array(label.length + seed.length + 1)
    input.set(label)
    input.set(seed, label.length)
    input[input.length - 1] = counter
    const candidate = sha256(input)
    if (ECDSA[curve].utils.isValidSecretKey(candidate))
      return keypairFromPrivateKey(curve, candidate)
  }
}

/** A keypair from a 32-byte private scalar (e.g. the W3C did:key test vectors). */
export function keypairFromPrivateKey(curve: Curve, privateKey: Uint8Array): TestKeypair {
  const ecdsa = ECDSA[curve]
  const secret = Uint8Array.from(privateKey)
  const publicKeyMultibase = formatMultikey(curve, ecdsa.getPublicKey(secret, true))
  const publicKey = parseMultikey(publicKeyMultibase)
  return {
    curve,
    privateKey: secret,
    publicKey,
    didKey: publicKey.didKey,
    publicKeyMultibase,
    sign: (message) =>
      ecdsa.sign(message, secret, { prehash: true, lowS: true, format: 'compact' }),
    signDigest: (digest) =>
      ecdsa.sign(digest, secret, { prehash: false, lowS: true, format: 'compact' }),
  }
}

/**
 * A Multikey (`z…`) of `curve`'s codec whose compressed x names no point of the curve: what a
 * DID document with an unusable key publishes.
 */
export function offCurveMultikey(curve: Curve): string {
  for (let x = 1; ; x++) {
    const point = new Uint8Array(33)
    point[0] = 0x02
    point[32] = x
    if (compressPointWithNoble(curve, point) === undefined) return formatMultikey(curve, point)
  }
}
