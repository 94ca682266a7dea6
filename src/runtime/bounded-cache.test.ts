import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BoundedCache } from './bounded-cache.ts'

describe('BoundedCache', () => {
  it('evicts the least recently used entry beyond its limit', () => {
    const cache = new BoundedCache<string, number>(2)
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
