// atproto signature verification: sha-256 of the signed bytes, then ECDSA on k256 or p256 with
// a 64-byte compact low-S signature (DER, other lengths, high-S, r or s zero or >= n are refused
// before any backend runs, on both curves). Pure: no I/O, no logging; it reports which k256
// backend it chose and why native failed, and the caller logs that.
//
// Backends, measured on the 2-core dev box with Node 24 / OpenSSL 3.5 (signature.bench.ts):
// - k256 native: libsecp256k1 via the `secp256k1` package's Node-API binding, ~24,000/s; with
//   each key kept uncompressed after its first verify, 7–12% less per verify (2026-12-04). The
//   system's libsecp256k1 when installed (k256-system.ts): ~36 µs a verify against ~48 µs for
//   the bundled 2019 library (2026-12-05).
// - k256 fallback: node:crypto with a cached KeyObject, ~3,700/s. Chosen over @atcute/crypto
//   (the same OpenSSL call behind an async wrapper, so never faster) and @noble/curves (~950/s;
//   even with a per-key window-8 precomputed table, which costs ~100 KB per key, ~2,800/s).
// - p256: node:crypto with a cached KeyObject, ~11,000/s (@noble/curves ~600/s).
// Both node:crypto paths take the signature as DER (node-ecdsa.ts says why): on 2026-12-03, the
// box slower that day, that took p256 from 6,200–7,500/s to 12,400–14,100/s and the k256
// fallback from 1,900–2,000/s to 2,400–2,700/s.
// - verifyDigest without libsecp256k1 (p256, or the k256 fallback) needs @noble/curves, because
//   node:crypto cannot verify a prehashed digest: correct but slow; hot paths should call
//   verifySignature with the signed bytes instead.
// All backends give identical answers: the shape rules run first, and each backend's own verdict
// on a canonical signature is plain ECDSA validity (tested in signature.test.ts).
//
// Does not: parse keys (keys.ts), decode commits, or decide what a failure means for an event.

import { hash } from 'node:crypto'
import { isCanonicalCompactSignature } from './compact-signature.ts'
import { NATIVE_VERIFY_OK, type NativeSecp256k1 } from './k256-binding.ts'
import { loadNativeSecp256k1 } from './k256-native.ts'
import type { SystemLibraryError } from './k256-system.ts'
import type { PublicKey } from './keys.ts'
import { nobleVerifyDigest } from './noble-ecdsa.ts'
import { nodeVerifyMessage } from './node-ecdsa.ts'

export type K256BackendName = 'libsecp256k1' | 'node-crypto'

/** `native` requires libsecp256k1 (throws if it does not load), `fallback` never uses it. */
export type K256BackendChoice = 'auto' | 'native' | 'fallback'

export interface SignatureVerifier {
  readonly k256Backend: K256BackendName
  /** Verifies `sig` over sha-256(`message`). False on any invalid or malformed signature. */
  verifySignature(key: PublicKey, message: Uint8Array, sig: Uint8Array): boolean
  /** Same, given sha-256(message) already. Throws RangeError if `digest` is not 32 bytes. */
  verifyDigest(key: PublicKey, digest: Uint8Array, sig: Uint8Array): boolean
}

export class CryptoBackendError extends Error {
  override readonly name = 'CryptoBackendError'
  readonly code: 'native-unavailable'

  constructor(code: 'native-unavailable', options?: { cause?: unknown }) {
    super(`k256 backend: ${code}`, options)
    this.code = code
  }
}

const DIGEST_LENGTH = 32
const UNCOMPRESSED_LENGTH = 65

export function createVerifier(
  options: {
    k256?: K256BackendChoice
    /** This libsecp256k1 instead of the one loadNativeSecp256k1 picks (tests, benches). */
    native?: NativeSecp256k1
  } = {},
): SignatureVerifier {
  const choice = options.k256 ?? 'auto'
  let native: NativeSecp256k1 | undefined
  if (choice !== 'fallback' && options.native !== undefined) native = options.native
  else if (choice !== 'fallback') {
    const loaded = loadNativeSecp256k1()
    if (loaded.ok) native = loaded.binding
    else if (choice === 'native') {
      throw new CryptoBackendError('native-unavailable', { cause: loaded.error })
    }
  }
  return native === undefined ? fallbackVerifier() : nativeVerifier(native)
}

function nativeVerifier(native: NativeSecp256k1): SignatureVerifier {
  // libsecp256k1 parses the key on every verify: from its 33 compressed bytes that takes a square
  // root, ~4-6 of ~50 µs; from the 65 uncompressed bytes only a check that the point is on the
  // curve. So each key is decompressed on its first verify and kept beside it, for as long as the
  // key object lives (a worker caches 16,384 parsed keys: keys.ts). A key's first verify costs
  // what it did (the conversion is the parse it replaces); later ones save the square root, for
  // ~200 bytes per cached key. A key the binding cannot convert is verified as it is (and
  // refused by the verify).
  const uncompressed = new WeakMap<PublicKey, Uint8Array>()
  const pointOf = (key: PublicKey): Uint8Array => {
    let point = uncompressed.get(key)
    if (point === undefined) {
      point = new Uint8Array(UNCOMPRESSED_LENGTH)
      if (native.publicKeyConvert?.(point, key.compressed) !== 0) point = key.compressed
      uncompressed.set(key, point)
    }
    return point
  }
  // The digest of the message verified last: a digest as a Buffer costs a new backing store,
  // ~1 µs more than its 'binary' (latin1) string, whose characters are copied in here. The
  // binding reads it during the call and keeps nothing.
  const messageDigest = new Uint8Array(DIGEST_LENGTH)
  const digestOf = (message: Uint8Array): Uint8Array => {
    const digest = hash('sha256', message, 'binary')
    for (let i = 0; i < DIGEST_LENGTH; i++) messageDigest[i] = digest.charCodeAt(i)
    return messageDigest
  }
  const verifyK256Digest = (key: PublicKey, digest: Uint8Array, sig: Uint8Array): boolean => {
    try {
      return native.ecdsaVerify(sig, digest, pointOf(key)) === NATIVE_VERIFY_OK
    } catch {
      return false
    }
  }
  return {
    k256Backend: 'libsecp256k1',
    verifySignature(key, message, sig) {
      if (!isCanonicalCompactSignature(key.curve, sig)) return false
      if (key.curve === 'k256') return verifyK256Digest(key, digestOf(message), sig)
      return nodeVerifyMessage(key, message, sig)
    },
    verifyDigest(key, digest, sig) {
      assertDigest(digest)
      if (!isCanonicalCompactSignature(key.curve, sig)) return false
      if (key.curve === 'k256') return verifyK256Digest(key, digest, sig)
      return nobleVerifyDigest(key, digest, sig)
    },
  }
}

function fallbackVerifier(): SignatureVerifier {
  return {
    k256Backend: 'node-crypto',
    verifySignature(key, message, sig) {
      if (!isCanonicalCompactSignature(key.curve, sig)) return false
      return nodeVerifyMessage(key, message, sig)
    },
    verifyDigest(key, digest, sig) {
      assertDigest(digest)
      if (!isCanonicalCompactSignature(key.curve, sig)) return false
      return nobleVerifyDigest(key, digest, sig)
    },
  }
}

function assertDigest(digest: Uint8Array): void {
  if (digest.length !== DIGEST_LENGTH) {
    throw new RangeError(`digest must be ${DIGEST_LENGTH} bytes, got ${digest.length}`)
  }
}

const nativeLoad = loadNativeSecp256k1()
const defaultVerifier = createVerifier()

/** The k256 backend the default functions below use. */
export const k256Backend: K256BackendName = defaultVerifier.k256Backend

/** Why libsecp256k1 did not load (undefined when it did), for the caller to log. */
export const nativeK256Error: Error | undefined = nativeLoad.ok ? undefined : nativeLoad.error

/** Which libsecp256k1 the default functions use (`system …` or `bundled …`), if one loaded. */
export const k256Library: string | undefined = nativeLoad.ok ? nativeLoad.library : undefined

/** Why the system's libsecp256k1 is not the one in use, for the caller to log. */
export const systemK256Error: SystemLibraryError | undefined = nativeLoad.ok
  ? nativeLoad.systemError
  : undefined

/** verifySignature of the best available backend (libsecp256k1 if it loads). */
export const verifySignature = defaultVerifier.verifySignature

/** verifyDigest of the best available backend (libsecp256k1 if it loads). */
export const verifyDigest = defaultVerifier.verifyDigest
