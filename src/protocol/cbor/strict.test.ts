import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { DagCborProblem } from './dag-cbor-error.ts'
import { DagCborError } from './dag-cbor-error.ts'
import { decodeStrict } from './data-model.ts'
import { checkDagCbor, dagCborItemEnd, MAX_DAG_CBOR_DEPTH } from './strict.ts'

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'))

const DIGEST = '11'.repeat(32)
/** tag 42 around 0x00 + CIDv1 dag-cbor sha-256 */
const CID = `d82a 5825 00 01 71 12 20 ${DIGEST}`

function rejects(input: string | Uint8Array, code: DagCborProblem, name: string, offset?: number) {
  const bytes = typeof input === 'string' ? hex(input) : input
  assert.throws(
    () => checkDagCbor(bytes),
    (err: unknown) => {
      assert.ok(err instanceof DagCborError, `${name}: expected DagCborError, got ${String(err)}`)
      assert.equal(err.code, code, `${name}: code (${err.message})`)
      if (offset !== undefined) assert.equal(err.offset, offset, `${name}: offset`)
      assert.match(err.message, new RegExp(`${code} at offset ${err.offset}`), `${name}: message`)
      return true
    },
    name,
  )
}

describe('checkDagCbor accepts canonical data-model items', () => {
  const valid: Record<string, string> = {
    'small int': '00',
    'int 23': '17',
    'int 24': '1818',
    'int 255': '18ff',
    'int 256': '190100',
    'int 65536': '1a00010000',
    'int 2^32': '1b0000000100000000',
    'max signed 64-bit': '1b7fffffffffffffff',
    'min signed 64-bit': '3b7fffffffffffffff',
    'negative -1': '20',
    'false true null': '83f4f5f6',
    'empty text': '60',
    'empty bytes': '40',
    'utf-8 text': '63e282ac',
    'emoji text': '64f09f9880',
    'empty array and map': '82 80 a0',
    'sorted map, length first': 'a3 6162 01 6163 02 626161 03',
    'nested map': 'a1 6161 a1 6162 80',
    'cid link': CID,
    'cid in array': `82 ${CID} ${CID}`,
    'cid with identity hash of 0 bytes': 'd82a 45 00 01 55 00 00',
    'cid with 2-byte codec varint': `d82a 5826 00 01 9001 12 20 ${DIGEST}`,
    'map of cids': `a1 6163 ${CID}`,
  }
  for (const [name, input] of Object.entries(valid)) {
    test(name, () => {
      const bytes = hex(input)
      assert.doesNotThrow(() => checkDagCbor(bytes), name)
      assert.equal(dagCborItemEnd(bytes, 0), bytes.length, `${name}: item end`)
    })
  }

  test(`nesting of exactly ${MAX_DAG_CBOR_DEPTH} levels`, () => {
    const bytes = hex(`${'81'.repeat(MAX_DAG_CBOR_DEPTH)}00`)
    assert.doesNotThrow(() => checkDagCbor(bytes))
  })
})

describe('checkDagCbor rejects, one code per problem', () => {
  const cases: [DagCborProblem, string, string, number?][] = [
    ['float', 'half float', 'f93c00', 0],
    ['float', 'single float', 'fa3f800000'],
    ['float', 'double float', 'fb3ff0000000000000'],
    ['float', 'double inside a map', 'a1 6161 fb3ff0000000000000', 3],
    ['float', 'NaN', 'f97e00'],
    ['non-minimal', 'int 5 in two bytes', '1805', 0],
    ['non-minimal', 'int 255 in three bytes', '1900ff'],
    ['non-minimal', 'int in five bytes', '1a0000ffff'],
    ['non-minimal', 'int in nine bytes', '1b00000000ffffffff'],
    ['non-minimal', 'negative int', '3817'],
    ['non-minimal', 'byte-string length', '5801ff'],
    ['non-minimal', 'text length', '780161'],
    ['non-minimal', 'array length', '980100'],
    ['non-minimal', 'map length', 'b801 6161 00'],
    ['non-minimal', 'map key length', 'a1 7801 61 00', 1],
    ['non-minimal', 'tag 42 in three bytes', `d9002a 5825 00 01 71 12 20 ${DIGEST}`],
    ['non-minimal', 'cid byte-string length', `d82a 590025 00 01 71 12 20 ${DIGEST}`],
    ['indefinite-length', 'indefinite map', 'bf ff', 0],
    ['indefinite-length', 'indefinite array', '9f 00 ff'],
    ['indefinite-length', 'indefinite bytes', '5f 41 00 ff'],
    ['indefinite-length', 'indefinite text', '7f 61 61 ff'],
    ['indefinite-length', 'lone break', 'ff'],
    ['indefinite-length', 'indefinite key', 'a1 7f6161ff 00'],
    ['non-string-key', 'integer key', 'a1 01 01', 1],
    ['non-string-key', 'byte-string key', 'a1 4161 01'],
    ['non-string-key', 'array key', 'a1 80 01'],
    ['duplicate-key', 'same key twice', 'a2 6161 01 6161 02', 4],
    ['unsorted-keys', 'b before a', 'a2 6162 01 6161 02', 4],
    ['unsorted-keys', 'longer key first', 'a2 626161 01 6162 02', 5],
    ['unsorted-keys', 'sorted as strings, not length-first', 'a2 626161 01 617a 02'],
    ['bad-tag', 'tag 1 (epoch time)', 'c1 00', 0],
    ['bad-tag', 'tag 0', 'c0 60'],
    ['bad-tag', 'tag 43', 'd82b 00'],
    ['bad-tag', 'tag 256', 'd90100 00'],
    ['bad-cid', 'tag 42 over a text string', 'd82a 6161', 0],
    ['bad-cid', 'tag 42 over an integer', 'd82a 00'],
    ['bad-cid', 'missing 0x00 prefix', `d82a 5824 01 71 12 20 ${DIGEST}`],
    ['bad-cid', 'empty byte string', 'd82a 40'],
    ['bad-cid', 'CIDv0', `d82a 5823 00 12 20 ${DIGEST}`],
    ['bad-cid', 'version 2', `d82a 5825 00 02 71 12 20 ${DIGEST}`],
    ['bad-cid', 'digest shorter than declared', `d82a 5824 00 01 71 12 20 ${'11'.repeat(31)}`],
    ['bad-cid', 'digest longer than declared', `d82a 5826 00 01 71 12 20 ${DIGEST} 11`],
    ['bad-cid', 'non-minimal codec varint', `d82a 5826 00 01 f100 12 20 ${DIGEST}`],
    ['bad-cid', 'varint running off the end', 'd82a 44 00 01 71 92'],
    ['bad-cid', 'prefix only', 'd82a 41 00'],
    ['bad-simple', 'undefined', 'f7', 0],
    ['bad-simple', 'simple value 16', 'f0'],
    ['bad-simple', 'one-byte simple value', 'f820'],
    ['reserved-info', 'int with info 28', '1c', 0],
    ['reserved-info', 'negative int with info 30', '3e'],
    ['reserved-info', 'bytes with info 29', '5d'],
    ['reserved-info', 'indefinite int', '1f'],
    ['reserved-info', 'tag with info 31', 'df'],
    ['reserved-info', 'major 7 info 28', 'fc'],
    ['invalid-utf8', 'lone continuation byte', '61 80', 0],
    ['invalid-utf8', 'truncated 2-byte sequence', '62 61c3'],
    ['invalid-utf8', 'overlong slash', '62 c0af'],
    ['invalid-utf8', 'utf-16 surrogate', '63 eda080'],
    ['invalid-utf8', 'above U+10FFFF', '64 f4908080'],
    ['invalid-utf8', 'byte 0xff', '61 ff'],
    ['invalid-utf8', 'in a map key', 'a1 61ff 00', 1],
    ['invalid-utf8', 'long string (native path)', `7850 ${'61'.repeat(79)} ff`],
    ['int-out-of-range', '2^63', '1b8000000000000000', 0],
    ['int-out-of-range', '-2^63 - 1', '3b8000000000000000'],
    ['int-out-of-range', '2^64 - 1', '1bffffffffffffffff'],
    ['truncated', 'empty input', '', 0],
    ['truncated', 'missing argument byte', '18', 1],
    ['truncated', 'short 8-byte argument', '1b000000010000'],
    ['truncated', 'map missing its value', 'a1 6161', 3],
    ['truncated', 'array missing items', '82 81 01', 3],
    ['truncated', 'tag with nothing after', 'd82a', 2],
    ['truncated', 'tag head cut short', 'd8'],
    ['length-exceeds-input', 'huge byte string, short input', '5affffffff 00', 0],
    ['length-exceeds-input', 'text one byte short', '62 61'],
    ['length-exceeds-input', 'huge array', '9affffffff 00'],
    ['length-exceeds-input', '2^32 map entries', 'bb0000000100000000 6161 00'],
    ['length-exceeds-input', 'array longer than the rest', '84 01 02 03'],
    ['length-exceeds-input', 'map needing 2 bytes per entry', 'a2 6161 00'],
    ['length-exceeds-input', 'huge key', 'a1 7affffffff 00', 1],
    ['length-exceeds-input', 'huge cid', 'd82a 5affffffff 00'],
    ['trailing-bytes', 'two items', '00 00', 1],
    ['trailing-bytes', 'map then garbage', 'a0 ff ff', 1],
    [
      'too-deep',
      `${MAX_DAG_CBOR_DEPTH + 1} nested arrays`,
      `${'81'.repeat(MAX_DAG_CBOR_DEPTH + 1)}00`,
    ],
    [
      'too-deep',
      'nested maps',
      `${'a1 6161 '.repeat(MAX_DAG_CBOR_DEPTH + 1)}00`,
      MAX_DAG_CBOR_DEPTH * 3,
    ],
  ]
  for (const [code, name, input, offset] of cases) {
    test(`${code}: ${name}`, () => rejects(input, code, name, offset))
  }

  test('every problem code except unsupported has a byte-level case', () => {
    const covered = new Set(cases.map(([code]) => code))
    const all: DagCborProblem[] = [
      'float',
      'non-minimal',
      'indefinite-length',
      'non-string-key',
      'duplicate-key',
      'unsorted-keys',
      'bad-tag',
      'bad-cid',
      'bad-simple',
      'reserved-info',
      'invalid-utf8',
      'int-out-of-range',
      'truncated',
      'length-exceeds-input',
      'trailing-bytes',
      'too-deep',
    ]
    for (const code of all) assert.ok(covered.has(code), `no case for ${code}`)
  })

  test('deep nesting does not overflow the stack', () => {
    rejects(new Uint8Array(1_000_000).fill(0x81), 'too-deep', 'a million nested arrays')
  })
})

describe('unsupported: valid DAG-CBOR that @atcute/cbor cannot hold', () => {
  const cases: Record<string, string> = {
    'integer 2^53': '1b0020000000000000',
    'integer -2^53 - 1': '3b0020000000000000',
    'sha-512 CID': `d82a 5845 00 01 71 13 40 ${'22'.repeat(64)}`,
  }
  for (const [name, input] of Object.entries(cases)) {
    test(name, () => {
      const bytes = hex(input)
      assert.doesNotThrow(() => checkDagCbor(bytes), `${name}: valid DAG-CBOR`)
      assert.throws(
        () => decodeStrict(bytes),
        (err: unknown) =>
          err instanceof DagCborError && err.code === 'unsupported' && err.cause !== undefined,
        name,
      )
    })
  }
})

describe('item boundaries and ranges', () => {
  test('dagCborItemEnd finds the header/body boundary of a frame', () => {
    // {op: 1, t: "#commit"} then {seq: 5}
    const header = 'a2 6174 67 23636f6d6d6974 626f70 01'
    const bytes = hex(`${header} a1 63736571 05`)
    const boundary = hex(header).length
    assert.equal(dagCborItemEnd(bytes, 0), boundary)
    assert.equal(dagCborItemEnd(bytes, boundary), bytes.length)
    assert.doesNotThrow(() => checkDagCbor(bytes, 0, boundary))
    assert.doesNotThrow(() => checkDagCbor(bytes, boundary))
    rejects(bytes, 'trailing-bytes', 'whole frame as one item', boundary)
  })

  test('errors in a later item report offsets in the whole buffer', () => {
    const bytes = hex('00 a1 01 01')
    assert.throws(
      () => checkDagCbor(bytes, 1),
      (err: unknown) =>
        err instanceof DagCborError && err.code === 'non-string-key' && err.offset === 2,
    )
  })

  test('a range ending early makes the item truncated', () => {
    const bytes = hex('82 81 01 02')
    assert.throws(
      () => checkDagCbor(bytes, 0, 3),
      (err: unknown) => err instanceof DagCborError && err.code === 'truncated',
    )
  })

  test('a bad range is a RangeError, not a data problem', () => {
    const bytes = hex('00')
    assert.throws(() => checkDagCbor(bytes, 0, 2), RangeError)
    assert.throws(() => checkDagCbor(bytes, 2, 1), RangeError)
    assert.throws(() => dagCborItemEnd(bytes, -1), RangeError)
  })
})
