// Bench support: k256 keypairs that sign through libsecp256k1 (the `secp256k1` package's native
// binding; signing is ~20× faster than @noble/curves, which would otherwise take most of a load
// generator's time). Signatures are low-S compact, as @noble's and every PDS's.
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import {
  generateKeypair,
  keypairFromPrivateKey,
  type TestKeypair,
} from '../test/support/keypair.ts'

const native = createRequire(import.meta.url)('secp256k1/bindings.js') as {
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array }
}

/** A k256 keypair (random, or from a 32-byte private key) that signs natively. */
export function fastKeypair(privateKey?: Uint8Array): TestKeypair {
  const kp =
    privateKey === undefined ? generateKeypair('k256') : keypairFromPrivateKey('k256', privateKey)
  const digest = (m: Uint8Array) => createHash('sha256').update(m).digest()
  return {
    ...kp,
    sign: (m) => native.ecdsaSign(digest(m), kp.privateKey).signature,
    signDigest: (d) => native.ecdsaSign(d, kp.privateKey).signature,
  }
}
