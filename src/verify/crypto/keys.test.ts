import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { fromBase58Btc, toBase58Btc } from '@atcute/multibase'
import { readFixtureJson } from '../../../test/support/fixtures.ts'
import { keypairFromPrivateKey, keypairFromSeed } from '../../../test/support/keypair.ts'
import type { Curve } from './curves.ts'
import {
  clearKeyCache,
  formatDidKey,
  KeyParseError,
  type KeyParseErrorCode,
  nameDidKey,
  parseDidKey,
  parseMultikey,
  parseVerificationMethod,
} from './keys.ts'
import {
  compressPoint,
  compressPointWithNoble,
  decompressPoint,
  isCompressedPointOnCurve,
  opensslAcceptsCompressedPoint,
} from './point.ts'

interface W3cK256Case {
  privateKeyBytesHex: string
  publicDidKey: string
}
interface W3cP256Case {
  privateKeyBytesBase58: string
  publicDidKey: string
}
interface SignatureCase {
  comment: string
  algorithm: 'ES256' | 'ES256K'
  didDocSuite: string
  publicKeyDid: string
  publicKeyMultibase: string
}

const w3cK256 = readFixtureJson<W3cK256Case[]>('interop/crypto/w3c_didkey_K256.json')
const w3cP256 = readFixtureJson<W3cP256Case[]>('interop/crypto/w3c_didkey_P256.json')
const sigCases = readFixtureJson<SignatureCase[]>('interop/crypto/signature-fixtures.json')

const K256_PREFIX = [0xe7, 0x01]
const P256_PREFIX = [0x80, 0x24]
const multibase = (bytes: Iterable<number>): string => `z${toBase58Btc(Uint8Array.from(bytes))}`

function assertParseError(fn: () => unknown, code: KeyParseErrorCode, what: string): void {
  assert.throws(
    fn,
    (err: unknown) => err instanceof KeyParseError && err.code === code,
    `${what}: expected KeyParseError ${code}`,
  )
}

/** An x coordinate that is not on the curve when compressed (x^3 + ax + b is not a square). */
function offCurveCompressed(curve: Curve): Uint8Array {
  for (let x = 1; ; x++) {
    const bytes = new Uint8Array(33)
    bytes[0] = 0x02
    bytes[32] = x
    if (compressPointWithNoble(curve, bytes) === undefined) return bytes
  }
}

describe('compressed points checked natively', () => {
  // The native checks (libsecp256k1 for k256, OpenSSL for p256 and the k256 fallback) must give
  // @noble/curves' answer: random x (about half of them on the curve), and the edges x = 0,
  // x = p - 1, x = p and x = 2^256 - 1, under both tags.
  const FIELD = {
    k256: 'fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f',
    p256: 'ffffffff00000001000000000000000000000000ffffffffffffffffffffffff',
  } as const
  for (const curve of ['k256', 'p256'] as const) {
    it(`${curve}: agree with @noble/curves on random and edge x`, () => {
      const p = BigInt(`0x${FIELD[curve]}`)
      const edges = [0n, p - 1n, p, 2n ** 256n - 1n].map((x) =>
        Buffer.from(x.toString(16).padStart(64, '0'), 'hex'),
      )
      const xs = [...edges, ...Array.from({ length: 600 }, () => randomBytes(32))]
      let onCurve = 0
      for (const x of xs) {
        for (const tag of [0x02, 0x03]) {
          const bytes = Uint8Array.from([tag, ...x])
          const expected = compressPointWithNoble(curve, bytes) !== undefined
          const label = `${curve} ${Buffer.from(bytes).toString('hex')}`
          assert.equal(isCompressedPointOnCurve(curve, bytes), expected, label)
          assert.equal(opensslAcceptsCompressedPoint(curve, bytes), expected, `${label} (OpenSSL)`)
          assert.equal(compressPoint(curve, bytes) !== undefined, expected, `${label} (compress)`)
          if (expected) onCurve++
        }
      }
      assert.ok(onCurve > 400 && onCurve < 800, `${onCurve} of ${xs.length * 2} on the curve`)
    })
  }
})

describe('W3C did:key vectors', () => {
  it('k256: every case parses to the key derived from the private key', () => {
    assert.ok(w3cK256.length > 0)
    for (const c of w3cK256) {
      const key = parseDidKey(c.publicDidKey)
      const expected = keypairFromPrivateKey('k256', Buffer.from(c.privateKeyBytesHex, 'hex'))
      assert.equal(key.curve, 'k256', c.publicDidKey)
      assert.equal(key.compressed.length, 33, c.publicDidKey)
      assert.deepEqual(key.compressed, expected.publicKey.compressed, c.publicDidKey)
      assert.equal(key.didKey, c.publicDidKey, `${c.publicDidKey}: canonical form`)
      assert.equal(expected.didKey, c.publicDidKey, `${c.publicDidKey}: formatted from private`)
    }
  })

  it('p256: every case parses to the key derived from the private key', () => {
    assert.ok(w3cP256.length > 0)
    for (const c of w3cP256) {
      const key = parseDidKey(c.publicDidKey)
      const priv = fromBase58Btc(c.privateKeyBytesBase58)
      assert.equal(priv.length, 32, `${c.publicDidKey}: private key length`)
      const expected = keypairFromPrivateKey('p256', priv)
      assert.equal(key.curve, 'p256', c.publicDidKey)
      assert.deepEqual(key.compressed, expected.publicKey.compressed, c.publicDidKey)
      assert.equal(key.didKey, c.publicDidKey, `${c.publicDidKey}: canonical form`)
      assert.equal(expected.didKey, c.publicDidKey, `${c.publicDidKey}: formatted from private`)
    }
  })
})

describe('signature fixture keys', () => {
  it('did:key, Multikey and the legacy DID-document suite agree for every case', () => {
    for (const c of sigCases) {
      const fromDid = parseDidKey(c.publicKeyDid)
      const curve = c.algorithm === 'ES256K' ? 'k256' : 'p256'
      assert.equal(fromDid.curve, curve, c.comment)
      const legacy = parseVerificationMethod({
        type: c.didDocSuite,
        publicKeyMultibase: c.publicKeyMultibase,
      })
      assert.deepEqual(legacy, fromDid, `${c.comment}: legacy ${c.didDocSuite}`)
      const multikey = parseVerificationMethod({
        type: 'Multikey',
        publicKeyMultibase: c.publicKeyDid.slice('did:key:'.length),
      })
      assert.equal(multikey, fromDid, `${c.comment}: Multikey shares the cache entry`)
    }
  })
})

describe('key forms', () => {
  for (const curve of ['k256', 'p256'] as const) {
    const pair = keypairFromSeed(curve, new TextEncoder().encode('keys.test'))
    const uncompressed = decompressPoint(curve, pair.publicKey.compressed)!
    const prefix = curve === 'k256' ? K256_PREFIX : P256_PREFIX
    const legacyType =
      curve === 'k256' ? 'EcdsaSecp256k1VerificationKey2019' : 'EcdsaSecp256r1VerificationKey2019'

    it(`${curve}: seeded test keypairs are deterministic`, () => {
      const again = keypairFromSeed(curve, new TextEncoder().encode('keys.test'))
      assert.equal(again.didKey, pair.didKey)
      assert.notEqual(keypairFromSeed(curve, new Uint8Array(1)).didKey, pair.didKey)
    })

    it(`${curve}: Multikey round-trips`, () => {
      assert.equal(parseMultikey(pair.publicKeyMultibase).didKey, pair.didKey)
      assert.equal(formatDidKey(curve, pair.publicKey.compressed), pair.didKey)
    })

    it(`${curve}: legacy method with compressed or uncompressed point normalises`, () => {
      for (const point of [pair.publicKey.compressed, uncompressed]) {
        const key = parseVerificationMethod({
          type: legacyType,
          publicKeyMultibase: multibase(point),
        })
        assert.equal(key.curve, curve, `${point.length}-byte point`)
        assert.deepEqual(key.compressed, pair.publicKey.compressed, `${point.length}-byte point`)
        assert.equal(key.didKey, pair.didKey, `${point.length}-byte point`)
      }
    })

    it(`${curve}: uncompressed point in did:key is accepted and made canonical`, () => {
      const key = parseDidKey(`did:key:${multibase([...prefix, ...uncompressed])}`)
      assert.deepEqual(key.compressed, pair.publicKey.compressed)
      assert.equal(key.didKey, pair.didKey)
    })

    it(`${curve}: points off the curve are refused`, () => {
      const off = offCurveCompressed(curve)
      assertParseError(
        () => parseDidKey(`did:key:${multibase([...prefix, ...off])}`),
        'not-on-curve',
        'compressed',
      )
      const badY = Uint8Array.from(uncompressed)
      badY[64]! ^= 1
      assertParseError(
        () => parseDidKey(`did:key:${multibase([...prefix, ...badY])}`),
        'not-on-curve',
        'bad y',
      )
      const bigX = new Uint8Array(33).fill(0xff)
      bigX[0] = 0x02
      assertParseError(
        () => parseDidKey(`did:key:${multibase([...prefix, ...bigX])}`),
        'not-on-curve',
        'x >= p',
      )
      const badTag = Uint8Array.from(pair.publicKey.compressed)
      badTag[0] = 0x05
      assertParseError(
        () => parseDidKey(`did:key:${multibase([...prefix, ...badTag])}`),
        'not-on-curve',
        'tag 05',
      )
      const hybrid = Uint8Array.from(uncompressed)
      hybrid[0] = 0x06
      assertParseError(
        () => parseDidKey(`did:key:${multibase([...prefix, ...hybrid])}`),
        'not-on-curve',
        'tag 06',
      )
      assertParseError(
        () => parseVerificationMethod({ type: legacyType, publicKeyMultibase: multibase(off) }),
        'not-on-curve',
        'legacy',
      )
    })

    it(`${curve}: wrong lengths are refused`, () => {
      const c = pair.publicKey.compressed
      for (const bytes of [c.subarray(0, 32), [...c, 0], [], uncompressed.subarray(0, 64)]) {
        assertParseError(
          () => parseDidKey(`did:key:${multibase([...prefix, ...bytes])}`),
          'bad-length',
          `${bytes.length} bytes`,
        )
      }
    })
  }

  it('refuses malformed did:key strings', () => {
    const good = parseDidKey(sigCases[1]!.publicKeyDid).didKey
    assertParseError(() => parseDidKey('did:web:example.com'), 'not-did-key', 'did:web')
    assertParseError(() => parseDidKey(good.replace('did:key:', 'did:KEY:')), 'not-did-key', 'case')
    assertParseError(
      () => parseDidKey(good.replace(':z', ':m')),
      'not-base58btc',
      'base64 multibase',
    )
    assertParseError(() => parseDidKey('did:key:'), 'not-base58btc', 'empty')
    assertParseError(() => parseDidKey(`${good.slice(0, -1)}0`), 'bad-base58', 'digit 0')
    assertParseError(() => parseDidKey(`${good.slice(0, -1)}l`), 'bad-base58', 'letter l')
    assertParseError(() => parseDidKey(`${good}é`), 'bad-base58', 'non-ASCII')
    assertParseError(() => parseDidKey(`did:key:z${'2'.repeat(200)}`), 'bad-length', 'very long')
    const ed25519 = multibase([0xed, 0x01, ...new Uint8Array(32).fill(7)])
    assertParseError(() => parseDidKey(`did:key:${ed25519}`), 'unknown-codec', 'ed25519')
    assertParseError(() => parseDidKey(`did:key:${multibase([0xe7])}`), 'unknown-codec', 'short')
    assertParseError(() => parseMultikey('zzz'), 'unknown-codec', 'tiny multikey')
  })

  it('refuses unknown or keyless verification methods', () => {
    const mb = sigCases[1]!.publicKeyMultibase
    assertParseError(
      () => parseVerificationMethod({ type: 'JsonWebKey2020', publicKeyMultibase: mb }),
      'unsupported-type',
      'JWK type',
    )
    assertParseError(() => parseVerificationMethod({ type: 'Multikey' }), 'missing-key', 'no key')
    const notString = JSON.parse('{"type":"Multikey","publicKeyMultibase":42}') as { type: string }
    assertParseError(() => parseVerificationMethod(notString), 'missing-key', 'number')
  })

  it('names a Multikey as written without parsing it, and parses a legacy method', () => {
    // nameDidKey is for callers that hand the key on to whoever parses it to verify with it.
    const c = sigCases[1]!
    const mb = c.publicKeyDid.slice('did:key:'.length)
    assert.equal(nameDidKey({ type: 'Multikey', publicKeyMultibase: mb }), c.publicKeyDid)
    assert.equal(nameDidKey({ type: 'Multikey', publicKeyMultibase: 'zzz' }), 'did:key:zzz')
    assert.equal(
      nameDidKey({ type: c.didDocSuite, publicKeyMultibase: c.publicKeyMultibase }),
      parseDidKey(c.publicKeyDid).didKey,
    )
    assertParseError(
      () => nameDidKey({ type: 'Multikey', publicKeyMultibase: `z${'2'.repeat(200)}` }),
      'bad-length',
      'very long',
    )
    assertParseError(
      () => nameDidKey({ type: 'JsonWebKey2020', publicKeyMultibase: mb }),
      'unsupported-type',
      'JWK type',
    )
    assertParseError(() => nameDidKey({ type: 'Multikey' }), 'missing-key', 'no key')
  })

  it('memoises by input string and can be cleared', () => {
    const did = sigCases[0]!.publicKeyDid
    const a = parseDidKey(did)
    assert.equal(parseDidKey(did), a)
    assert.ok(Object.isFrozen(a))
    clearKeyCache()
    const b = parseDidKey(did)
    assert.notEqual(b, a)
    assert.deepEqual(b, a)
  })
})
