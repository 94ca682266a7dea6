// Public signing keys as atproto publishes them: `did:key:z…` strings, DID-document `Multikey`
// verification methods, and the legacy `EcdsaSecp256k1VerificationKey2019` /
// `EcdsaSecp256r1VerificationKey2019` methods (raw SEC1 point bytes, no multicodec). Checks the
// multibase (base58btc only), the multicodec (secp256k1-pub 0xe7, p256-pub 0x1200), the point
// length and that the point is on the curve; normalises to the compressed point and the canonical
// did:key. Uncompressed (65-byte) points are accepted and compressed, as the reference
// implementation verifies with them too. Parsed keys are memoised by input string in a bounded
// LRU, so the per-event cost is one map lookup. Does not resolve DIDs or pick which verification
// method of a document is the atproto signing key (`#atproto`): that is the identity layer's job.

import { fromBase58Btc, toBase58Btc } from '@atcute/multibase'
import { BoundedCache } from '../../runtime/bounded-cache.ts'
import { CURVES, type Curve, K256, P256 } from './curves.ts'
import { compressPoint } from './point.ts'

export type { Curve } from './curves.ts'

export interface PublicKey {
  readonly curve: Curve
  /** 33-byte SEC1 compressed point. Shared by the cache: never mutate it. */
  readonly compressed: Uint8Array
  /** Canonical `did:key:z…` form (multicodec + compressed point, base58btc). */
  readonly didKey: string
}

export type KeyParseErrorCode =
  | 'not-did-key' // did:key string without the `did:key:` prefix
  | 'not-base58btc' // multibase prefix is not `z`
  | 'bad-base58' // characters outside the base58btc alphabet
  | 'unknown-codec' // multicodec prefix is neither secp256k1-pub nor p256-pub
  | 'bad-length' // key bytes are not a 33- or 65-byte SEC1 point (or the string is absurdly long)
  | 'not-on-curve' // well-formed length and tag, but not a point of the curve
  | 'unsupported-type' // verification method type we do not know
  | 'missing-key' // verification method without a string `publicKeyMultibase`

export class KeyParseError extends Error {
  override readonly name = 'KeyParseError'
  readonly code: KeyParseErrorCode
  /** The offending input, truncated to 120 characters. */
  readonly input: string

  constructor(code: KeyParseErrorCode, input: string, options?: { cause?: unknown }) {
    const shown = input.length > 120 ? `${input.slice(0, 120)}…` : input
    super(`invalid public key (${code}): ${JSON.stringify(shown)}`, options)
    this.code = code
    this.input = shown
  }
}

export const MULTIKEY_TYPE = 'Multikey'
export const LEGACY_K256_TYPE = 'EcdsaSecp256k1VerificationKey2019'
export const LEGACY_P256_TYPE = 'EcdsaSecp256r1VerificationKey2019'

const DID_KEY_PREFIX = 'did:key:'
/** A multicodec-prefixed 65-byte point is 67 bytes, ~92 base58 characters; refuse far longer. */
const MAX_MULTIBASE_LENGTH = 128
const KEY_CACHE_LIMIT = 16_384

// did:key and Multikey inputs are cached under their did:key spelling (so both share an entry);
// legacy methods under `<type> <multibase>`.
const cache = new BoundedCache<PublicKey>(KEY_CACHE_LIMIT)

/** Parses `did:key:z…` (k256 or p256). Throws KeyParseError. */
export function parseDidKey(didKey: string): PublicKey {
  const hit = cache.get(didKey)
  if (hit !== undefined) return hit
  if (!didKey.startsWith(DID_KEY_PREFIX)) throw new KeyParseError('not-did-key', didKey)
  const key = fromMulticodec(decodeMultibase(didKey.slice(DID_KEY_PREFIX.length), didKey), didKey)
  cache.set(didKey, key)
  return key
}

/** Parses the `publicKeyMultibase` of a `Multikey` verification method. Throws KeyParseError. */
export function parseMultikey(publicKeyMultibase: string): PublicKey {
  return parseDidKey(DID_KEY_PREFIX + publicKeyMultibase)
}

/**
 * Parses a DID-document verification method: `Multikey`, or the legacy
 * `EcdsaSecp256k1VerificationKey2019` / `EcdsaSecp256r1VerificationKey2019`, whose
 * `publicKeyMultibase` is the raw point (compressed or not) with no multicodec prefix.
 * Throws KeyParseError.
 */
export function parseVerificationMethod(vm: {
  type: string
  publicKeyMultibase?: string
}): PublicKey {
  const multibase: unknown = vm.publicKeyMultibase
  if (typeof multibase !== 'string') throw new KeyParseError('missing-key', String(vm.type))
  if (vm.type === MULTIKEY_TYPE) return parseMultikey(multibase)
  const curve: Curve | undefined =
    vm.type === LEGACY_K256_TYPE ? 'k256' : vm.type === LEGACY_P256_TYPE ? 'p256' : undefined
  if (curve === undefined) throw new KeyParseError('unsupported-type', String(vm.type))
  const cacheKey = `${vm.type} ${multibase}`
  const hit = cache.get(cacheKey)
  if (hit !== undefined) return hit
  const key = fromPoint(curve, decodeMultibase(multibase, multibase), multibase)
  cache.set(cacheKey, key)
  return key
}

/**
 * The did:key a verification method names, for a caller that only hands the key on to whoever
 * verifies with it, which parses it in full (`parseDidKey`) and refuses it there if it is
 * unusable. A `Multikey` is named as written, without decoding it: checking its point costs ~6 µs
 * (k256) to ~60 µs (p256), paid where the key is used and not twice. A legacy method carries a
 * raw point without its multicodec, so it is parsed here (rare). Throws KeyParseError for an
 * unknown type or a missing key; an over-long Multikey is refused here too, so nothing absurd
 * travels on.
 */
export function nameDidKey(vm: { type: string; publicKeyMultibase?: string }): string {
  const multibase: unknown = vm.publicKeyMultibase
  if (vm.type !== MULTIKEY_TYPE || typeof multibase !== 'string') {
    return parseVerificationMethod(vm).didKey
  }
  if (multibase.length > MAX_MULTIBASE_LENGTH) throw new KeyParseError('bad-length', multibase)
  return DID_KEY_PREFIX + multibase
}

/** Multicodec + compressed point, base58btc with the `z` multibase prefix (Multikey form). */
export function formatMultikey(curve: Curve, compressed: Uint8Array): string {
  const prefix = CURVES[curve].multicodec
  const bytes = new Uint8Array(prefix.length + compressed.length)
  bytes.set(prefix)
  bytes.set(compressed, prefix.length)
  return `z${toBase58Btc(bytes)}`
}

/** `did:key:` + the Multikey form. */
export function formatDidKey(curve: Curve, compressed: Uint8Array): string {
  return DID_KEY_PREFIX + formatMultikey(curve, compressed)
}

/** Drops every memoised key (tests; after a configuration change). */
export function clearKeyCache(): void {
  cache.clear()
}

function decodeMultibase(multibase: string, input: string): Uint8Array {
  if (multibase.length > MAX_MULTIBASE_LENGTH) throw new KeyParseError('bad-length', input)
  if (!multibase.startsWith('z')) throw new KeyParseError('not-base58btc', input)
  try {
    return fromBase58Btc(multibase.slice(1))
  } catch (cause) {
    throw new KeyParseError('bad-base58', input, { cause })
  }
}

function fromMulticodec(bytes: Uint8Array, input: string): PublicKey {
  for (const params of [K256, P256]) {
    const prefix = params.multicodec
    if (bytes.length >= prefix.length && bytes[0] === prefix[0] && bytes[1] === prefix[1]) {
      return fromPoint(params.curve, bytes.subarray(prefix.length), input)
    }
  }
  throw new KeyParseError('unknown-codec', input)
}

function fromPoint(curve: Curve, point: Uint8Array, input: string): PublicKey {
  if (point.length !== 33 && point.length !== 65) throw new KeyParseError('bad-length', input)
  const compressed = compressPoint(curve, point)
  if (compressed === undefined) throw new KeyParseError('not-on-curve', input)
  return Object.freeze({ curve, compressed, didKey: formatDidKey(curve, compressed) })
}
