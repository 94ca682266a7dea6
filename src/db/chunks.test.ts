import assert from 'node:assert/strict'
import { test } from 'node:test'
import { chunkSizes, chunks, keyChunks } from './chunks.ts'

test('chunkSizes: full chunks first, then the remainder in powers of two', () => {
  assert.deepEqual(chunkSizes(0, 500), [])
  assert.deepEqual(chunkSizes(1, 500), [1])
  assert.deepEqual(chunkSizes(300, 500), [256, 32, 8, 4])
  assert.deepEqual(chunkSizes(500, 500), [500])
  assert.deepEqual(chunkSizes(1001, 500), [500, 500, 1])
  assert.deepEqual(chunkSizes(7, 4), [4, 2, 1])
  assert.throws(() => chunkSizes(3, 0), RangeError)
})

test('chunkSizes plain: full chunks, then the remainder in one', () => {
  assert.deepEqual(chunkSizes(300, 500, 'plain'), [300])
  assert.deepEqual(chunkSizes(1001, 500, 'plain'), [500, 500, 1])
  assert.deepEqual(chunkSizes(0, 500, 'plain'), [])
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

test('chunks: consecutive slices covering every row once, in order', () => {
  const rows = Array.from({ length: 13 }, (_, i) => i)
  const out = [...chunks(rows, 5)]
  assert.deepEqual(
    out.map((c) => c.length),
    [5, 5, 2, 1],
  )
  assert.deepEqual(out.flat(), rows)
})

test('keyChunks: the last chunk padded with its last key to a power of two, never past max', () => {
  assert.deepEqual([...keyChunks([1, 2, 3], 500)], [[1, 2, 3, 3]])
  assert.deepEqual([...keyChunks([1, 2, 3, 4, 5, 6, 7], 6)], [[1, 2, 3, 4, 5, 6], [7]])
  assert.deepEqual([...keyChunks(['a', 'b', 'c', 'd', 'e'], 6)], [['a', 'b', 'c', 'd', 'e', 'e']])
  assert.deepEqual([...keyChunks([], 500)], [])
  const sizes = new Set<number>()
  for (let n = 1; n <= 1_200; n++) {
    const keys = Array.from({ length: n }, (_, i) => i)
    const out = [...keyChunks(keys, 500)]
    assert.deepEqual(new Set(out.flat()), new Set(keys)) // every key, nothing else
    for (const c of out) sizes.add(c.length)
  }
  assert.equal(sizes.size, 10) // 1, 2, 4, ..., 256, 500
})
