// CIDs as atproto uses them: CIDv1, sha2-256, codec dag-cbor (0x71) or raw (0x55), 36 bytes in
// binary form, base32 (`b...`) as strings. Hashing is synchronous (node:crypto): WebCrypto's
// async digest is ~20x slower per block here (BENCHMARKS.md, "Library measurements").
// Deliberately not handled: CIDv0, other hashes or codecs; atproto repositories never use them.
import { hash } from 'node:crypto'
import * as CID from '@atcute/cid'
import { isDecodedCidLink } from './cbor/decoded.ts'

export type { Cid, CidLink } from '@atcute/cid'

/** sha-256 digest of `bytes` (32 bytes). */
export function sha256(bytes: Uint8Array): Uint8Array {
  return hash('sha256', bytes, 'buffer')
}

/** The base32 string of the CID of a dag-cbor block. */
export function cidStringForDagCbor(bytes: Uint8Array): string {
  return CID.toString(CID.fromDigest(CID.CODEC_DCBOR, sha256(bytes)))
}

/** True when `bytes` hash to the digest inside `cid` (sha-256 only). */
export function blockMatchesCid(cid: CID.Cid, bytes: Uint8Array): boolean {
  if (cid.digest.codec !== CID.HASH_SHA256) return false
  const expected = cid.digest.contents
  // A 'binary' (latin1) string digest is ~0.75 µs cheaper per block than a Buffer (measured); each char is
  // one byte of the digest.
  const actual = hash('sha256', bytes, 'binary')
  if (expected.length !== actual.length) return false
  for (let i = 0; i < actual.length; i++) if (expected[i] !== actual.charCodeAt(i)) return false
  return true
}

/** A decoded CID link to a dag-cbor block (commits, MST nodes, records): CIDv1, codec 0x71,
 * sha-256. Their base32 form always starts with "bafyrei"; raw (0x55) CIDs start with "bafkrei". */
export function isDagCborLink(value: unknown): value is CID.CidLink {
  return isDecodedCidLink(value) && value.$link.startsWith('bafyrei')
}
