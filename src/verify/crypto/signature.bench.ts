// Verifications per second for each signature backend and the candidates that were measured to
// pick the k256 fallback (see the header of signature.ts), plus the cold-key costs (parsing a
// did:key, preparing a KeyObject) that a relay pays once per account key it has not seen lately.
// Run: node_modules/.bin/node src/verify/crypto/signature.bench.ts

import { hash } from 'node:crypto'
import { P256PublicKey, Secp256k1PublicKey } from '@atcute/crypto'
import { p256 } from '@noble/curves/nist.js'
import { secp256k1 } from '@noble/curves/secp256k1.js'
import { measure, measureAsync, note } from '../../../bench/harness.ts'
import { keypairFromSeed } from '../../../test/support/keypair.ts'
import type { Curve } from './curves.ts'
import { loadNativeSecp256k1 } from './k256-native.ts'
import { clearKeyCache, type PublicKey, parseDidKey } from './keys.ts'
import { createVerifier } from './signature.ts'

/** A signed commit without its sig field is ~150–250 bytes of DAG-CBOR. */
const MESSAGE_BYTES = 200
const KEYS = 32

interface Sample {
  readonly key: PublicKey
  readonly message: Uint8Array<ArrayBuffer>
  readonly digest: Uint8Array
  readonly sig: Uint8Array<ArrayBuffer>
}

function samples(curve: Curve): Sample[] {
  return Array.from({ length: KEYS }, (_, i) => {
    const pair = keypairFromSeed(curve, Uint8Array.of(i))
    const message = new Uint8Array(MESSAGE_BYTES).fill(i + 1)
    const sig = Uint8Array.from(pair.sign(message))
    return { key: pair.publicKey, message, digest: hash('sha256', message, 'buffer'), sig }
  })
}

const k256 = samples('k256')
const p256s = samples('p256')
const cycle = <T>(items: T[]): (() => T) => {
  let i = 0
  return () => items[i++ % items.length]!
}

const native = createVerifier({ k256: 'native' })
const fallback = createVerifier({ k256: 'fallback' })

note(`message ${MESSAGE_BYTES} bytes, ${KEYS} keys per curve, low-S valid signatures`)

let next = cycle(k256)
const nativeMsg = measure('k256 libsecp256k1 verifySignature', () => {
  const s = next()
  if (!native.verifySignature(s.key, s.message, s.sig)) throw new Error('k256 native failed')
})
measure('k256 libsecp256k1 verifyDigest', () => {
  const s = next()
  native.verifyDigest(s.key, s.digest, s.sig)
})
const binding = loadNativeSecp256k1()
if (binding.ok) {
  measure('k256 libsecp256k1 raw binding (no shape check, no hash)', () => {
    const s = next()
    binding.binding.ecdsaVerify(s.sig, s.digest, s.key.compressed)
  })
  // What the verifier saves by keeping each key uncompressed (signature.ts).
  const points = new Map(
    k256.map((s) => {
      const point = new Uint8Array(65)
      binding.binding.publicKeyConvert?.(point, s.key.compressed)
      return [s, point] as const
    }),
  )
  measure('k256 libsecp256k1 raw binding, the key uncompressed', () => {
    const s = next()
    binding.binding.ecdsaVerify(s.sig, s.digest, points.get(s)!)
  })
}
const fallbackMsg = measure('k256 fallback node:crypto verifySignature', () => {
  const s = next()
  if (!fallback.verifySignature(s.key, s.message, s.sig)) throw new Error('k256 fallback failed')
})
measure('k256 fallback verifyDigest (@noble/curves)', () => {
  const s = next()
  fallback.verifyDigest(s.key, s.digest, s.sig)
})

// Candidates for the fallback.
const atcuteK256 = await Promise.all(
  k256.map((s) => Secp256k1PublicKey.importRaw(s.key.compressed)),
)
let j = 0
await measureAsync('k256 candidate @atcute/crypto (key imported once)', () => {
  const i = j++ % KEYS
  return atcuteK256[i]!.verify(k256[i]!.sig, k256[i]!.message)
})
measure('k256 candidate @noble/curves verify', () => {
  const s = next()
  secp256k1.verify(s.sig, s.message, s.key.compressed)
})

next = cycle(p256s)
measure('p256 node:crypto verifySignature', () => {
  const s = next()
  if (!native.verifySignature(s.key, s.message, s.sig)) throw new Error('p256 failed')
})
measure('p256 verifyDigest (@noble/curves)', () => {
  const s = next()
  native.verifyDigest(s.key, s.digest, s.sig)
})
const atcuteP256 = await Promise.all(p256s.map((s) => P256PublicKey.importRaw(s.key.compressed)))
await measureAsync('p256 candidate @atcute/crypto (WebCrypto, key imported once)', () => {
  const i = j++ % KEYS
  return atcuteP256[i]!.verify(p256s[i]!.sig, p256s[i]!.message)
})
measure('p256 candidate @noble/curves verify', () => {
  const s = next()
  p256.verify(s.sig, s.message, s.key.compressed, { lowS: true })
})

// Cold keys: what an unseen account key costs before its first verification.
const didKeys = k256.map((s) => s.key.didKey)
let d = 0
measure('k256 parseDidKey, cache miss (base58 + curve check)', () => {
  clearKeyCache()
  parseDidKey(didKeys[d++ % KEYS]!)
})
measure('k256 parseDidKey, cache hit', () => {
  parseDidKey(didKeys[d++ % KEYS]!)
})
next = cycle(k256)
measure('k256 fallback verifySignature, new key each call (KeyObject)', () => {
  const s = next()
  fallback.verifySignature({ ...s.key }, s.message, s.sig)
})
note(
  `k256 native / fallback: ${(nativeMsg.perSecond / fallbackMsg.perSecond).toFixed(1)}x; ` +
    `fallback signature share of a 400 µs budget (2,500 commits/s): ` +
    `${Math.round(fallbackMsg.microsPerOp / 4)}%`,
)
