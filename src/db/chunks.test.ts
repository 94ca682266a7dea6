import assert from 'node:assert/strict'
import { test } from 'node:test'
import { chunkSizes, chunks } from './chunks.ts'

test('chunkSizes: full chunks first, then the remainder in powers of two', () => {
  assert.deepEqual(chunkSizes(0, 500), [])
  assert.deepEqual(chunkSizes(1, 500), [1])
  assert.deepEqual(chunkSizes(300, 500), [256, 32, 8, 4])
  assert.deepEqual(chunkSizes(500, 500), [500])
  assert.deepEqual(chunkSizes(1001, 500), [500, 500, 1])
  assert.deepEqual(chunkSizes(7, 4), [4, 2, 1])
  assert.throws(() => chunkSizes(3, 0), RangeError)
})

test('chunkSizes: every count from 0 to 2,000 sums up, and 500 gives at most 10 distinct sizes', () => {
  const distinct = new Set<number>()
  for (let n = 0; n <= 2_000; n++) {
    const sizes = chunkSizes(n, 500)
    assert.equal(
      sizes.reduce((a, b) => a + b, 0),
      n,
    )
    for (const s of sizes) {
      assert.ok(s >= 1 && s <= 500)
      distinct.add(s)
    }
  }
  assert.equal(distinct.size, 10) // 500, 256, 128, ..., 1
})

test('chunks: consecutive slices covering every item once, in order', () => {
  const items = Array.from({ length: 13 }, (_, i) => i)
  const out = [...chunks(items, 5)]
  assert.deepEqual(
    out.map((c) => c.length),
    [5, 5, 2, 1],
  )
  assert.deepEqual(out.flat(), items)
})
