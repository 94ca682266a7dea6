// Upstream frames for tests: small `#identity` events by seq, and a deliberately non-canonical
// one (map keys out of DAG-CBOR order) that still decodes leniently.
// Deliberately not here: commits (test/support/test-repo.ts makes real ones).
import { encode } from '@atcute/cbor'
import { concat, encodeMessageFrame } from '../../protocol/frame.ts'

export const TEST_DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const TIME = '2024-05-01T12:00:00.000Z'

export function identityFrame(seq: number, extra: Record<string, unknown> = {}): Uint8Array {
  return encodeMessageFrame('#identity', { seq, did: TEST_DID, time: TIME, ...extra })
}

/** An `#identity` frame whose body map lists its keys out of canonical order. */
export function nonCanonicalIdentityFrame(seq: number): Uint8Array {
  const header = encode({ op: 1, t: '#identity' })
  const pairs: [string, unknown][] = [
    ['time', TIME],
    ['seq', seq],
    ['did', TEST_DID],
  ]
  const parts: Uint8Array[] = [Uint8Array.of(0xa0 + pairs.length)]
  for (const [k, v] of pairs) parts.push(encode(k), encode(v))
  return concat(header, parts.reduce(concat))
}
