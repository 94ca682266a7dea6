import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BoundedCache, SHARD_ENTRIES } from './bounded-cache.ts'

describe('BoundedCache', () => {
  it('evicts the least recently used entry beyond its limit', () => {
    const cache = new BoundedCache<number>(2)
    cache.set('a', 1)
    cache.set('b', 2)
    assert.equal(cache.get('a'), 1) // a is now the most recent
    cache.set('c', 3)
    assert.equal(cache.get('b'), undefined)
    assert.equal(cache.get('a'), 1)
    assert.equal(cache.get('c'), 3)
    assert.equal(cache.size, 2)
    cache.set('c', 4)
    assert.equal(cache.size, 2)
    assert.equal(cache.get('c'), 4)
    cache.delete('c')
    assert.equal(cache.get('c'), undefined)
    assert.equal(cache.size, 1)
    cache.clear()
    assert.equal(cache.size, 0)
  })

  it('refuses a non-positive limit', () => {
    assert.throws(() => new BoundedCache(0), RangeError)
    assert.throws(() => new BoundedCache(1.5), RangeError)
  })
})

describe('BoundedCache in shards', () => {
  it('splits a large cache, keeps it within its limit and evicts the least recently used', () => {
    const limit = SHARD_ENTRIES * 4
    const cache = new BoundedCache<number>(limit)
    const key = (i: number) => `did:plc:${i.toString(32).padStart(24, 'z')}`
    const first = Math.floor(limit * 0.9) // every shard still below its share
    for (let i = 0; i < first; i++) cache.set(key(i), i)
    assert.equal(cache.evictions, 0)
    assert.equal(cache.get(key(0)), 0, 'the oldest, used again')
    for (let i = first; i < limit * 1.5; i++) cache.set(key(i), i)
    assert.ok(cache.size <= limit, `${cache.size} entries`)
    assert.ok(cache.size > limit * 0.99, `${cache.size} entries: the shards fill evenly`)
    assert.equal(cache.evictions, limit * 1.5 - cache.size)
    assert.equal(cache.peek(key(0)), 0, 'used lately: kept')
    assert.equal(cache.peek(key(1)), undefined, 'among the least recently used: evicted')
    // The newest half-limit are all there: each shard evicts its own oldest.
    for (let i = limit; i < limit * 1.5; i++) assert.equal(cache.peek(key(i)), i)
    cache.delete(key(0))
    assert.equal(cache.get(key(0)), undefined)
    cache.clear()
    assert.equal(cache.size, 0)
  })
})
