// Fuzzing of the DAG-CBOR decoders: the strict check (checkDagCbor, dagCborItemEnd), the strict
// decode (decodeStrict) and the JSON side (fromJson). Proves, on arbitrary bytes and on hostile
// shapes built here, that they only ever return or throw their own typed error (DagCborError,
// DataModelError), never a TypeError, RangeError or stack overflow; that heads claiming 2^31 to
// 2^64-1 items or bytes are refused as longer than the input without allocating for them; that
// nesting of up to 100,000 levels is refused as too deep; that every non-shortest head is refused
// (DAG-CBOR canonical form: integers and lengths in their shortest encoding, no indefinite
// lengths, no floats); and that a tag-42 link decodes only when it is the one CID form atproto
// uses (CIDv1, dag-cbor or raw, sha-256, 32-byte digest).
// strict.property.test.ts beside the checker covers random values and light damage to them; this
// file adds the hostile headers, nesting and CID shapes. Fixed seed, short runs in `npm test`;
// RELAY_TEST_LONG=1 runs 100 times more. Each property also runs under a time limit: a hang guard,
// not a speed requirement.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { encode } from '@atcute/cbor'
import fc from 'fast-check'
import { DagCborError } from '../../src/protocol/cbor/dag-cbor-error.ts'
import { decodeStrict, fromJson, toJson } from '../../src/protocol/cbor/data-model.ts'
import { DataModelError } from '../../src/protocol/cbor/data-model-error.ts'
import { checkDagCbor, dagCborItemEnd, MAX_DAG_CBOR_DEPTH } from '../../src/protocol/cbor/strict.ts'
import {
  applyDamage,
  cborHead,
  concatBytes,
  damages,
  fuzzParams,
  HUGE_LENGTHS,
  nestedCbor,
  onlyTyped,
  varint,
  withBoundedMemory,
} from '../support/fuzz-inputs.ts'
import { SEED, scaled } from '../support/long-mode.ts'

/** Both strict entry points on `bytes`: they agree, and throw only DagCborError. */
function strict(bytes: Uint8Array): { ok: true; value: unknown } | { ok: false; code: string } {
  const checked = onlyTyped(() => checkDagCbor(bytes), DagCborError, 'checkDagCbor')
  const decoded = onlyTyped(() => decodeStrict(bytes), DagCborError, 'decodeStrict')
  if (bytes.length > 0) onlyTyped(() => dagCborItemEnd(bytes, 0), DagCborError, 'dagCborItemEnd')
  // decodeStrict is the check plus a decode that may refuse more ('unsupported'), never less
  if (decoded.ok) assert.ok(checked.ok, 'decodeStrict accepted what checkDagCbor refused')
  if (!decoded.ok) return { ok: false, code: (decoded.error as DagCborError).code }
  return { ok: true, value: decoded.value }
}

/** A small valid data-model object to embed hostile items in. */
const host = fc.record(
  {
    a: fc.integer(),
    bb: fc.string({ maxLength: 8 }),
    ccc: fc.array(fc.boolean(), { maxLength: 3 }),
  },
  { noNullPrototype: true },
)

test('arbitrary bytes: DagCborError or a canonical value', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
      const r = strict(bytes)
      // anything accepted is canonical: encoding it again gives the same bytes
      if (r.ok) assert.deepEqual(encode(r.value), bytes)
    }),
    fuzzParams(SEED, scaled(3000, 300_000)),
  )
})

test('heads claiming 2^31 to 2^64-1 items or bytes are refused without allocating', () => {
  fc.assert(
    fc.property(
      host,
      fc.constantFrom(2, 3, 4, 5),
      fc.constantFrom(...HUGE_LENGTHS),
      fc.uint8Array({ maxLength: 64 }),
      fc.boolean(),
      (obj, major, length, tail, nested) => {
        const head = cborHead(major, length)
        let bytes = concatBytes(head, tail)
        if (nested) {
          // as the value of the last key of a valid map
          const base = encode(obj)
          bytes = concatBytes(base.subarray(0, base.length - 1), head, tail)
        }
        const r = withBoundedMemory(16, () => strict(bytes))
        assert.ok(!r.ok)
        // 2^64-1 does not fit the signed 64-bit range DAG-CBOR allows, but as a length it is
        // simply more than the input holds
        assert.ok(['length-exceeds-input', 'truncated'].includes(r.code), r.code)
      },
    ),
    fuzzParams(SEED, scaled(500, 50_000)),
  )
})

test('nesting past the limit, up to 100,000 levels, is too-deep rather than a stack overflow', () => {
  for (const depth of [MAX_DAG_CBOR_DEPTH + 1, 1_000, 100_000]) {
    for (const kind of ['array', 'map', 'mixed'] as const) {
      const r = strict(nestedCbor(depth, kind))
      assert.deepEqual(r, { ok: false, code: 'too-deep' }, `${kind} ${depth}`)
    }
  }
  // exactly at the limit it is valid
  assert.ok(strict(nestedCbor(MAX_DAG_CBOR_DEPTH, 'mixed')).ok)
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 3_000 }),
      fc.constantFrom('array' as const, 'map' as const, 'mixed' as const),
      damages(2),
      (depth, kind, edits) => {
        const bytes = applyDamage(nestedCbor(depth, kind), edits)
        strict(bytes)
      },
    ),
    fuzzParams(SEED, scaled(300, 30_000)),
  )
})

test('every non-shortest integer or length, indefinite length and float is refused', () => {
  fc.assert(
    fc.property(
      host,
      fc.constantFrom(0, 1, 2, 3, 4, 5),
      fc.bigInt({ min: 0n, max: 2n ** 32n + 5n }),
      fc.constantFrom(1 as const, 2 as const, 4 as const, 8 as const),
      (obj, major, n, width) => {
        // a head wider than its value needs, then a few bytes of content
        if (n >= 2n ** BigInt(8 * width)) return
        const wide = cborHead(major, n, width)
        if (wide.length <= cborHead(major, n).length) return
        const base = encode(obj)
        const bytes = concatBytes(
          base.subarray(0, base.length - 1),
          wide,
          Uint8Array.of(0x61, 0x61),
        )
        // the argument is read, and refused, before the length it gives is compared or used
        assert.deepEqual(strict(bytes), { ok: false, code: 'non-minimal' })
      },
    ),
    fuzzParams(SEED, scaled(500, 50_000)),
  )
  for (const [bytes, code] of [
    [Uint8Array.of(0x9f, 0x01, 0xff), 'indefinite-length'],
    [Uint8Array.of(0xbf, 0x61, 0x61, 0x01, 0xff), 'indefinite-length'],
    [Uint8Array.of(0x7f, 0x61, 0x61, 0xff), 'indefinite-length'],
    [Uint8Array.of(0xf9, 0x3c, 0x00), 'float'],
    [Uint8Array.of(0xfa, 0x3f, 0x80, 0x00, 0x00), 'float'],
    [Uint8Array.of(0xfb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0), 'float'],
    [Uint8Array.of(0xff), 'indefinite-length'],
    [Uint8Array.of(0xf7), 'bad-simple'],
    [Uint8Array.of(0xd8, 0x2b, 0x01), 'bad-tag'],
  ] as const) {
    assert.deepEqual(strict(bytes), { ok: false, code }, Buffer.from(bytes).toString('hex'))
  }
})

// A tag-42 link: 0x00, then a CID (version, codec, multihash code, digest length, digest), all
// varints but the digest. Only CIDv1 + dag-cbor/raw + sha-256 + 32 bytes is atproto's form.
const cidParts = fc.record({
  prefix: fc.constantFrom(0, 0, 0, 1),
  version: fc.constantFrom(0n, 1n, 1n, 1n, 2n, 0x12n),
  codec: fc.constantFrom(0x71n, 0x55n, 0x70n, 0x00n, 0x129n, 2n ** 32n),
  hash: fc.constantFrom(0x12n, 0x12n, 0x13n, 0x00n, 0xb220n),
  claimed: fc.constantFrom(32n, 32n, 31n, 33n, 0n, 64n, 2n ** 32n, 2n ** 53n),
  actual: fc.constantFrom(32, 32, 31, 33, 0, 64),
  pad: fc.constantFrom(0, 0, 0, 1),
})

test('tag-42 links decode only in the one CID form atproto uses', () => {
  fc.assert(
    fc.property(
      host,
      cidParts,
      fc.uint8Array({ minLength: 64, maxLength: 64 }),
      (obj, c, digest) => {
        const cid = concatBytes(
          Uint8Array.of(c.prefix),
          varint(c.version, c.pad),
          varint(c.codec),
          varint(c.hash),
          varint(c.claimed),
          digest.subarray(0, c.actual),
        )
        const link = concatBytes(Uint8Array.of(0xd8, 0x2a), cborHead(2, BigInt(cid.length)), cid)
        const base = encode(obj)
        const bytes = concatBytes(base.subarray(0, base.length - 1), link)
        const r = strict(bytes)
        const blessed =
          c.prefix === 0 &&
          c.pad === 0 &&
          c.version === 1n &&
          (c.codec === 0x71n || c.codec === 0x55n) &&
          c.hash === 0x12n &&
          c.claimed === 32n &&
          c.actual === 32
        assert.equal(
          r.ok,
          blessed,
          JSON.stringify({ ...c, code: r.ok ? 'ok' : r.code }, (_, v) =>
            typeof v === 'bigint' ? String(v) : v,
          ),
        )
        // a CID the strict check passes but the decoder cannot hold is 'unsupported', not a crash
        if (
          !r.ok &&
          c.prefix === 0 &&
          c.pad === 0 &&
          c.version === 1n &&
          BigInt(c.actual) === c.claimed
        ) {
          assert.ok(['unsupported', 'bad-cid'].includes(r.code), r.code)
        }
      },
    ),
    fuzzParams(SEED, scaled(1_000, 100_000)),
  )
})

test('damaged encodings of values with links and bytes: DagCborError or canonical', () => {
  const link = { $link: 'bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454' }
  const value = fc.record(
    {
      $type: fc.constant('app.bsky.feed.post'),
      text: fc.string({ maxLength: 20 }),
      n: fc.integer(),
      ref: fc.constant(link),
      data: fc
        .uint8Array({ maxLength: 16 })
        .map((b) => ({ $bytes: Buffer.from(b).toString('base64').replace(/=+$/, '') })),
      list: fc.array(fc.oneof(fc.constant(link), fc.integer(), fc.constant(null)), {
        maxLength: 4,
      }),
    },
    { noNullPrototype: true },
  )
  fc.assert(
    fc.property(value, damages(3), (json, edits) => {
      const bytes = encode(fromJson(json))
      const r0 = strict(bytes)
      assert.ok(r0.ok)
      assert.deepEqual(toJson(r0.value as never), json)
      const r = strict(applyDamage(bytes, edits))
      if (r.ok) assert.deepEqual(encode(r.value), applyDamage(bytes, edits))
    }),
    fuzzParams(SEED, scaled(1_000, 100_000)),
  )
})

test('fromJson: arbitrary JSON and hostile $link/$bytes/$type shapes give DataModelError only', () => {
  const hostile = fc.oneof(
    fc.record(
      {
        $link: fc.oneof(
          fc.string(),
          fc.constant('bafyrei'),
          fc.constant(`b${'a'.repeat(58)}`),
          fc.integer(),
        ),
      },
      { noNullPrototype: true },
    ),
    fc.record(
      {
        $bytes: fc.oneof(fc.string(), fc.base64String(), fc.constant('===='), fc.integer()),
      },
      { noNullPrototype: true },
    ),
    fc.record(
      {
        $type: fc.oneof(fc.string(), fc.constant('blob'), fc.integer()),
        ref: fc.anything(),
        size: fc.anything(),
        mimeType: fc.anything(),
      },
      { noNullPrototype: true },
    ),
    fc.constant({ $link: 'bafyreie5cvv4h45feadgeuwhbcutmh6t2ceseocckahdoe6uat64zmz454', extra: 1 }),
  )
  fc.assert(
    fc.property(
      fc.oneof(
        fc.jsonValue(),
        hostile,
        fc.dictionary(fc.string(), fc.oneof(fc.jsonValue(), hostile)),
      ),
      (json) => {
        const r = onlyTyped(() => fromJson(json), DataModelError, 'fromJson')
        // what it accepts encodes to strict DAG-CBOR
        if (r.ok) assert.ok(strict(encode(r.value)).ok)
      },
    ),
    fuzzParams(SEED, scaled(2_000, 200_000)),
  )
  // 100,000 levels of JSON nesting (built without recursion): too-deep, not a stack overflow
  let deep: unknown = 1
  for (let i = 0; i < 100_000; i++) deep = i % 2 ? [deep] : { a: deep }
  const r = onlyTyped(() => fromJson({ a: deep }), DataModelError, 'fromJson deep')
  assert.ok(!r.ok && (r.error as DataModelError).code === 'too-deep')
})
