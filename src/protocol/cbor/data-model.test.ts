import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { BytesWrapper, CidLinkWrapper } from '@atcute/cbor'
import { toString as cidToString, create } from '@atcute/cid'
import { decodeStrict, encode, fromJson, fromJsonValue, toJson } from './data-model.ts'
import { DataModelError } from './data-model-error.ts'
import { checkDagCbor, MAX_DAG_CBOR_DEPTH } from './strict.ts'

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/interop/data-model')
const load = (name: string): unknown => JSON.parse(readFileSync(join(FIXTURES, name), 'utf8'))

interface EncodingCase {
  json: unknown
  cbor_base64: string
  cid: string
}
interface NotedCase {
  note: string
  json: unknown
}

const CODEC_DAG_CBOR = 0x71
const LINK = 'bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a'

describe('data-model-fixtures.json', () => {
  const cases = load('data-model-fixtures.json') as EncodingCase[]
  assert.ok(cases.length > 0)
  cases.forEach((c, i) => {
    const name = `case ${i} (${Object.keys(c.json as object).join(',')})`
    test(name, async () => {
      const want = Uint8Array.from(Buffer.from(c.cbor_base64, 'base64'))
      const encoded = encode(fromJson(c.json))
      assert.deepEqual(Buffer.from(encoded), Buffer.from(want), `${name}: encoding`)
      const cid = await create(CODEC_DAG_CBOR, encoded)
      assert.equal(cidToString(cid), c.cid, `${name}: cid`)
      assert.doesNotThrow(() => checkDagCbor(want), `${name}: strict check`)
      assert.deepEqual(toJson(decodeStrict(want)), c.json, `${name}: decode then toJson`)
    })
  })
})

describe('data-model-valid.json', () => {
  const cases = load('data-model-valid.json') as NotedCase[]
  assert.ok(cases.length > 0)
  for (const c of cases) {
    test(c.note, () => {
      const value = fromJson(c.json)
      const bytes = encode(value)
      assert.doesNotThrow(() => checkDagCbor(bytes), `${c.note}: strict check`)
      assert.deepEqual(toJson(decodeStrict(bytes)), c.json, `${c.note}: round trip`)
    })
  }
})

describe('data-model-invalid.json', () => {
  const cases = load('data-model-invalid.json') as NotedCase[]
  assert.ok(cases.length > 0)
  for (const c of cases) {
    test(c.note, () => {
      assert.throws(() => fromJson(c.json), DataModelError, c.note)
    })
  }
})

describe('fromJson', () => {
  test('builds the values @atcute/cbor encodes as tag 42 and byte strings', () => {
    const value = fromJson({ l: { $link: LINK }, b: { $bytes: 'AQID' } })
    assert.ok(value.l instanceof CidLinkWrapper)
    assert.equal(value.l.$link, LINK)
    assert.ok(value.b instanceof BytesWrapper)
    assert.deepEqual([...value.b.buf], [1, 2, 3])
    const bytes = encode(value)
    assert.equal(bytes[0], 0xa2)
    assert.deepEqual([...bytes.subarray(1, 5)], [0x61, 0x62, 0x43, 0x01]) // "b": h'010203'
  })

  test('accepts padded base64 and writes it back unpadded', () => {
    const value = fromJson({ b: { $bytes: 'AQ==' } })
    assert.deepEqual(toJson(value), { b: { $bytes: 'AQ' } })
  })

  const rejected: [string, unknown, DataModelError['code']][] = [
    ['array at top level', [1], 'not-object'],
    ['null at top level', null, 'not-object'],
    ['$link at top level', { $link: LINK }, 'not-object'],
    ['url-safe base64', { b: { $bytes: 'a-_b' } }, 'bad-bytes'],
    ['base64 with junk', { b: { $bytes: 'AQ!D' } }, 'bad-bytes'],
    [
      'CID of another hash',
      { l: { $link: 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi' } },
      'bad-link',
    ],
    ['NaN', { n: Number.NaN }, 'float'],
    ['Infinity', { n: Number.POSITIVE_INFINITY }, 'float'],
    ['integer beyond 2^53', { n: 2 ** 60 }, 'int-out-of-range'],
    ['lone surrogate value', { s: '\ud800' }, 'bad-string'],
    ['lone surrogate key', { '\udc00': 1 }, 'bad-string'],
    ['undefined value', { u: undefined }, 'unsupported-value'],
    ['bigint', { n: 1n }, 'unsupported-value'],
    ['Uint8Array', { b: new Uint8Array(1) }, 'unsupported-value'],
    ['Date', { d: new Date(0) }, 'unsupported-value'],
    [
      'blob with empty mimeType',
      { $type: 'blob', ref: { $link: LINK }, mimeType: '', size: 1 },
      'bad-blob',
    ],
    [
      'blob with negative size',
      { $type: 'blob', ref: { $link: LINK }, mimeType: 'a/b', size: -1 },
      'bad-blob',
    ],
  ]
  for (const [name, json, code] of rejected) {
    test(`rejects ${name} with ${code}`, () => {
      assert.throws(
        () => fromJson(json),
        (err: unknown) => err instanceof DataModelError && err.code === code,
        name,
      )
    })
  }

  test('names the path of the problem', () => {
    assert.throws(
      () => fromJson({ ops: [{ cid: { $link: 'x' } }] }),
      (err: unknown) => err instanceof DataModelError && err.path === '$.ops[0].cid',
    )
  })

  test(`nesting is limited to ${MAX_DAG_CBOR_DEPTH} levels, like the strict check`, () => {
    let ok: unknown = 0
    for (let i = 1; i < MAX_DAG_CBOR_DEPTH; i++) ok = [ok]
    assert.doesNotThrow(() => checkDagCbor(encode(fromJson({ a: ok }))))
    assert.throws(
      () => fromJson({ a: [ok] }),
      (err: unknown) => err instanceof DataModelError && err.code === 'too-deep',
    )
  })

  test('keeps a __proto__ key as data', () => {
    const json = JSON.parse('{"__proto__": {"x": 1}}') as unknown
    const value = fromJson(json)
    assert.ok(Object.hasOwn(value, '__proto__'))
    assert.equal(Object.getPrototypeOf(value), Object.prototype)
    assert.deepEqual(toJson(decodeStrict(encode(value))), json)
  })

  test('fromJsonValue takes any value; -0 becomes 0', () => {
    assert.equal(fromJsonValue('s'), 's')
    assert.ok(Object.is(fromJsonValue(-0), 0))
    assert.ok(fromJsonValue({ $link: LINK }) instanceof CidLinkWrapper)
  })
})

describe('toJson', () => {
  test('rejects what is not a data-model value', () => {
    for (const [name, value, code] of [
      ['float', { f: 1.5 }, 'float'],
      ['undefined', { u: undefined }, 'unsupported-value'],
      ['raw Uint8Array', { b: new Uint8Array(2) }, 'unsupported-value'],
      ['Map', new Map(), 'unsupported-value'],
    ] as const) {
      assert.throws(
        () => toJson(value),
        (err: unknown) => err instanceof DataModelError && err.code === code,
        name,
      )
    }
  })
})
