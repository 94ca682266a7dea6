import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { INDEX_STRIDE } from './segment.ts'
import {
  decodeSegmentIndex,
  encodeSegmentIndex,
  parseSegmentIndexFileName,
  segmentIndexFileName,
} from './segment-index.ts'

const index = {
  firstSeq: 1001,
  count: INDEX_STRIDE * 2 + 5,
  size: 900_000,
  newestTimeMs: 1_764_000_000_123,
  offsets: [16, 300_000, 600_000],
}

describe('segment index files', () => {
  it('read back what was written', () => {
    assert.deepEqual(decodeSegmentIndex(encodeSegmentIndex(index)), index)
    const empty = { firstSeq: 7, count: 0, size: 16, newestTimeMs: -Infinity, offsets: [] }
    assert.deepEqual(decodeSegmentIndex(encodeSegmentIndex(empty)), empty)
  })

  it('are refused unless whole and consistent', () => {
    const bytes = encodeSegmentIndex(index)
    assert.equal(decodeSegmentIndex(bytes.subarray(0, bytes.length - 1)), null, 'cut short')
    const flipped = Buffer.from(bytes)
    flipped[20]! ^= 1
    assert.equal(decodeSegmentIndex(flipped), null, 'checksum')
    const magic = Buffer.from(bytes)
    magic[0] = 0x41
    assert.equal(decodeSegmentIndex(magic), null, 'not an index file')
    // Well-formed bytes that describe an impossible index.
    const bad = (patch: Partial<typeof index>) =>
      decodeSegmentIndex(encodeSegmentIndex({ ...index, ...patch }))
    assert.equal(bad({ offsets: [16, 600_000, 300_000] }), null, 'offsets out of order')
    assert.equal(bad({ offsets: [16, 300_000, 900_000] }), null, 'offset past the end')
    assert.equal(bad({ count: INDEX_STRIDE * 4 }), null, 'offsets do not match the count')
    assert.equal(bad({ firstSeq: 1.5 }), null, 'not a seq')
    assert.equal(bad({ newestTimeMs: Number.NaN }), null, 'a time retention cannot compare')
    assert.equal(
      bad({ offsets: [20, 300_000, 600_000] }),
      null,
      'first record not after the header',
    )
    assert.equal(bad({ size: 8 }), null, 'smaller than a header')
  })

  it('are named after their segment', () => {
    assert.equal(segmentIndexFileName(42), '0000000000000042.idx')
    assert.equal(parseSegmentIndexFileName('0000000000000042.idx'), 42)
    assert.equal(parseSegmentIndexFileName('0000000000000042.seg'), null)
  })
})
