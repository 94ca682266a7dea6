// Property tests for the strict check: encodings of random data-model values pass it, and random
// damage to them either passes (and then is canonical) or fails with DagCborError, never with
// anything else.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BytesWrapper, CidLinkWrapper } from '@atcute/cbor'
import { fromDigest } from '@atcute/cid'
import * as fc from 'fast-check'
import { DagCborError } from './dag-cbor-error.ts'
import { decodeStrict, encode, fromJson, toJson } from './data-model.ts'
import { checkDagCbor, dagCborItemEnd } from './strict.ts'

const key = fc
  .string({ unit: 'binary', maxLength: 12 })
  .filter((s) => s.isWellFormed() && !s.startsWith('$'))

const value = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => s.isWellFormed()),
    fc.uint8Array({ maxLength: 300 }).map((b) => new BytesWrapper(b)),
    fc
      .tuple(fc.constantFrom(0x71, 0x55), fc.uint8Array({ minLength: 32, maxLength: 32 }))
      .map(([codec, digest]) => new CidLinkWrapper(fromDigest(codec, digest).bytes)),
    fc.array(tie('any'), { maxLength: 6 }),
    tie('object'),
  ),
  object: fc.dictionary(key, tie('any'), { maxKeys: 8, noNullPrototype: true }),
}))

const object = value.object as fc.Arbitrary<Record<string, unknown>>

/** Runs `fn` and requires it to succeed or fail with DagCborError. */
function onlyDagCborErrors(fn: () => void, what: string): boolean {
  try {
    fn()
    return true
  } catch (err) {
    if (err instanceof DagCborError) return false
    assert.fail(`${what}: threw ${String(err)} instead of DagCborError`)
  }
}

test('encodings of random data-model values pass the strict check and round-trip', () => {
  fc.assert(
    fc.property(object, (obj) => {
      const bytes = encode(obj)
      checkDagCbor(bytes)
      assert.equal(dagCborItemEnd(bytes, 0), bytes.length)
      const json = toJson(decodeStrict(bytes))
      assert.deepEqual(json, toJson(obj))
      assert.deepEqual(encode(fromJson(json)), bytes)
    }),
    { numRuns: 500 },
  )
})

const damaged = object.chain((obj) => {
  const bytes = encode(obj)
  const edits = fc.array(
    fc.tuple(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 })),
    { minLength: 1, maxLength: 4 },
  )
  return fc.tuple(fc.constant(bytes), edits, fc.nat({ max: bytes.length }))
})

test('damaged encodings pass only if canonical, else throw DagCborError', () => {
  fc.assert(
    fc.property(damaged, ([original, edits, cut]) => {
      const flipped = Uint8Array.from(original)
      for (const [at, byte] of edits) flipped[at] = byte
      for (const bytes of [flipped, original.subarray(0, cut), flipped.subarray(0, cut)]) {
        let decoded: unknown
        const passed = onlyDagCborErrors(() => {
          decoded = decodeStrict(bytes)
        }, 'decodeStrict')
        // anything the strict check accepts is canonical: re-encoding gives the same bytes
        if (passed) assert.deepEqual(encode(decoded), bytes)
        onlyDagCborErrors(() => checkDagCbor(bytes), 'checkDagCbor')
      }
    }),
    { numRuns: 2000 },
  )
})

test('arbitrary bytes never throw anything but DagCborError', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      onlyDagCborErrors(() => checkDagCbor(bytes), 'checkDagCbor')
      if (bytes.length > 0) onlyDagCborErrors(() => dagCborItemEnd(bytes, 0), 'dagCborItemEnd')
    }),
    { numRuns: 5000 },
  )
})
