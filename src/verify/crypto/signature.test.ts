import assert from 'node:assert/strict'
import { hash, randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { readFixtureJson } from '../../../test/support/fixtures.ts'
import {
  generateKeypair,
  keypairFromSeed,
  type TestKeypair,
} from '../../../test/support/keypair.ts'
import { CURVES, type Curve } from './curves.ts'
import { loadBundled } from './k256-native.ts'
import { loadSystemSecp256k1 } from './k256-system.ts'
import { parseDidKey, parseVerificationMethod } from './keys.ts'
import { nodeVerifyMessage } from './node-ecdsa.ts'
import {
  createVerifier,
  k256Backend,
  nativeK256Error,
  type SignatureVerifier,
  verifyDigest,
  verifySignature,
} from './signature.ts'

interface SignatureCase {
  comment: string
  messageBase64: string
  algorithm: 'ES256' | 'ES256K'
  didDocSuite: string
  publicKeyDid: string
  publicKeyMultibase: string
  signatureBase64: string
  validSignature: boolean
  tags: string[]
}

const cases = readFixtureJson<SignatureCase[]>('interop/crypto/signature-fixtures.json')

// Each libsecp256k1 on its own: the bundled binding, and the system's where one is installed
// (k256-system.test.ts says which machines have it).
const bundled = loadBundled()
const system = loadSystemSecp256k1({ kind: 'auto' })
const verifiers: ReadonlyArray<readonly [string, SignatureVerifier]> = [
  ['native', createVerifier({ k256: 'native' })],
  ['fallback', createVerifier({ k256: 'fallback' })],
  ['default', { k256Backend, verifySignature, verifyDigest }],
  ...(bundled.ok ? [['bundled', createVerifier({ native: bundled.binding })] as const] : []),
  ...(system.ok ? [['system', createVerifier({ native: system.binding })] as const] : []),
]

const sha256 = (bytes: Uint8Array): Uint8Array => hash('sha256', bytes, 'buffer')
const toBig = (bytes: Uint8Array): bigint =>
  BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`)
const to32 = (n: bigint): Uint8Array => Buffer.from(n.toString(16).padStart(64, '0'), 'hex')
const order = (curve: Curve): bigint => toBig(CURVES[curve].order)

/** The same signature with s replaced by n - s: still valid ECDSA, but high-S. */
function highS(curve: Curve, sig: Uint8Array): Uint8Array {
  const out = Uint8Array.from(sig)
  out.set(to32(order(curve) - toBig(sig.subarray(32))), 32)
  return out
}

function withRS(r: bigint, s: bigint): Uint8Array {
  const out = new Uint8Array(64)
  out.set(to32(r), 0)
  out.set(to32(s), 32)
  return out
}

/** Minimal DER encoding of a compact signature. */
function toDer(sig: Uint8Array): Uint8Array {
  const int = (b: Uint8Array): number[] => {
    let i = 0
    while (i < b.length - 1 && b[i] === 0) i++
    const v = [...b.subarray(i)]
    if ((v[0] ?? 0) & 0x80) v.unshift(0)
    return [0x02, v.length, ...v]
  }
  const body = [...int(sig.subarray(0, 32)), ...int(sig.subarray(32))]
  return Uint8Array.from([0x30, body.length, ...body])
}

/** Checks every verifier and both entry points give `expected`. */
function assertAll(
  key: TestKeypair['publicKey'],
  msg: Uint8Array,
  sig: Uint8Array,
  expected: boolean,
  what: string,
) {
  for (const [name, v] of verifiers) {
    assert.equal(v.verifySignature(key, msg, sig), expected, `${what} [${name} verifySignature]`)
    assert.equal(v.verifyDigest(key, sha256(msg), sig), expected, `${what} [${name} verifyDigest]`)
  }
}

describe('backend selection', () => {
  it('loads libsecp256k1 here and uses it by default', () => {
    assert.equal(nativeK256Error, undefined, `native load error: ${String(nativeK256Error?.cause)}`)
    assert.equal(k256Backend, 'libsecp256k1')
    assert.equal(createVerifier({ k256: 'native' }).k256Backend, 'libsecp256k1')
    assert.equal(createVerifier({ k256: 'fallback' }).k256Backend, 'node-crypto')
    assert.equal(createVerifier().k256Backend, 'libsecp256k1')
    assert.ok(bundled.ok, 'the bundled binding loads on its own')
  })
})

describe('interop signature fixtures', () => {
  for (const c of cases) {
    it(c.comment, () => {
      const message = Buffer.from(c.messageBase64, 'base64')
      const sig = Buffer.from(c.signatureBase64, 'base64')
      const fromDid = parseDidKey(c.publicKeyDid)
      const fromDoc = parseVerificationMethod({
        type: c.didDocSuite,
        publicKeyMultibase: c.publicKeyMultibase,
      })
      assert.equal(fromDid.curve, c.algorithm === 'ES256K' ? 'k256' : 'p256', c.comment)
      assertAll(fromDid, message, sig, c.validSignature, `${c.comment} (did:key)`)
      assertAll(fromDoc, message, sig, c.validSignature, `${c.comment} (${c.didDocSuite})`)
      if (c.tags.includes('high-s')) {
        // Documents why the low-S check is ours: OpenSSL alone accepts these.
        assert.equal(nodeVerifyMessage(fromDid, message, sig), true, `${c.comment}: OpenSSL raw`)
        assertAll(fromDid, message, highS(fromDid.curve, sig), true, `${c.comment}: normalised`)
      }
      if (c.tags.includes('der-encoded')) assert.notEqual(sig.length, 64, c.comment)
    })
  }
})

describe('rejections', () => {
  for (const curve of ['k256', 'p256'] as const) {
    const pair = keypairFromSeed(curve, new TextEncoder().encode(`signature.test ${curve}`))
    const other = keypairFromSeed(curve, new TextEncoder().encode(`signature.test other ${curve}`))
    const msg = new TextEncoder().encode(`a commit for ${curve}`)
    const sig = pair.sign(msg)
    const n = order(curve)

    it(`${curve}: the valid signature and its variants`, () => {
      assert.equal(sig.length, 64)
      assertAll(pair.publicKey, msg, sig, true, 'valid')
      assertAll(pair.publicKey, msg, pair.signDigest(sha256(msg)), true, 'signDigest')
      assertAll(
        pair.publicKey,
        new TextEncoder().encode(`a commit for ${curve}!`),
        sig,
        false,
        'wrong message',
      )
      assertAll(other.publicKey, msg, sig, false, 'other key')
      assertAll(pair.publicKey, msg, other.sign(msg), false, 'signature by other key')
      assertAll(pair.publicKey, msg, highS(curve, sig), false, 'high-S')
      assertAll(pair.publicKey, msg, toDer(sig), false, 'DER')
    })

    it(`${curve}: every single-bit flip of the signature fails`, () => {
      for (let bit = 0; bit < 512; bit++) {
        const flipped = Uint8Array.from(sig)
        flipped[bit >> 3]! ^= 1 << (bit & 7)
        assertAll(pair.publicKey, msg, flipped, false, `bit ${bit}`)
      }
    })

    it(`${curve}: out-of-range r and s, and wrong lengths`, () => {
      const r = toBig(sig.subarray(0, 32))
      const s = toBig(sig.subarray(32))
      const bad: Array<[string, Uint8Array]> = [
        ['r = 0', withRS(0n, s)],
        ['s = 0', withRS(r, 0n)],
        ['r = n', withRS(n, s)],
        ['r = n + r', withRS(n + r < 2n ** 256n ? n + r : n, s)],
        ['s = n', withRS(r, n)],
        ['s = n/2 + 1', withRS(r, n / 2n + 1n)],
        ['all ones', new Uint8Array(64).fill(0xff)],
        ['empty', new Uint8Array(0)],
        ['63 bytes', sig.subarray(0, 63)],
        ['65 bytes', Uint8Array.from([...sig, 1])],
        ['65 bytes with recovery prefix', Uint8Array.from([27, ...sig])],
      ]
      for (const [what, bytes] of bad) assertAll(pair.publicKey, msg, bytes, false, what)
    })

    it(`${curve}: verifyDigest insists on a 32-byte digest`, () => {
      for (const [name, v] of verifiers) {
        assert.throws(() => v.verifyDigest(pair.publicKey, msg, sig), RangeError, name)
      }
    })
  }
})

describe('backends agree on random inputs', () => {
  const native = createVerifier({ k256: 'native' })
  const fallback = createVerifier({ k256: 'fallback' })
  for (const curve of ['k256', 'p256'] as const) {
    it(`${curve}: random keys, messages, tampered and high-S signatures`, () => {
      for (let i = 0; i < 60; i++) {
        const pair = generateKeypair(curve)
        const msg = randomBytes(1 + ((i * 37) % 600))
        const sig = pair.sign(msg)
        const tampered = Uint8Array.from(sig)
        tampered[i % 64]! ^= 1 << (i % 8)
        const inputs: Array<[string, Uint8Array, Uint8Array, boolean | undefined]> = [
          ['valid', msg, sig, true],
          ['high-S', msg, highS(curve, sig), false],
          ['tampered', msg, tampered, false],
          ['other message', randomBytes(32), sig, false],
          ['random bytes', msg, randomBytes(64), undefined],
        ]
        for (const [what, m, s, expected] of inputs) {
          const label = `${curve} #${i} ${what}`
          const a = native.verifySignature(pair.publicKey, m, s)
          assert.equal(fallback.verifySignature(pair.publicKey, m, s), a, `${label}: message`)
          assert.equal(
            native.verifyDigest(pair.publicKey, sha256(m), s),
            a,
            `${label}: native digest`,
          )
          assert.equal(
            fallback.verifyDigest(pair.publicKey, sha256(m), s),
            a,
            `${label}: fallback digest`,
          )
          if (expected !== undefined) assert.equal(a, expected, label)
        }
      }
    })
  }
})

describe('libsecp256k1 given each key uncompressed', () => {
  it('answers the same on a key’s first verify (decompressing it) and on later ones', () => {
    const native = createVerifier({ k256: 'native' })
    const fallback = createVerifier({ k256: 'fallback' })
    for (let i = 0; i < 20; i++) {
      const pair = generateKeypair('k256')
      const msg = randomBytes(100 + i)
      const sig = pair.sign(msg)
      const other = randomBytes(100 + i)
      for (let use = 0; use < 3; use++) {
        assert.equal(native.verifySignature(pair.publicKey, msg, sig), true, `#${i} use ${use}`)
        assert.equal(native.verifySignature(pair.publicKey, other, sig), false, `#${i} use ${use}`)
        assert.equal(native.verifyDigest(pair.publicKey, sha256(msg), sig), true)
      }
      assert.equal(fallback.verifySignature(pair.publicKey, msg, sig), true)
    }
  })

  it('refuses, without throwing, a key that is not a point on the curve', () => {
    const native = createVerifier({ k256: 'native' })
    const pair = generateKeypair('k256')
    const msg = randomBytes(64)
    const sig = pair.sign(msg)
    // x = p, the field's modulus: never a coordinate (keys.ts would refuse to parse it).
    const compressed = Buffer.from(`02${'ff'.repeat(27)}fefffffc2f`, 'hex')
    const bad = { ...pair.publicKey, compressed }
    for (let use = 0; use < 2; use++) assert.equal(native.verifySignature(bad, msg, sig), false)
  })
})
