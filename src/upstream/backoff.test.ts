import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Backoff } from './backoff.ts'

describe('Backoff', () => {
  it('grows exponentially up to the cap, with full jitter', () => {
    const top = new Backoff({ initialMs: 100, maxMs: 1_000, random: () => 0.999999 })
    const ceilings: number[] = []
    for (let i = 0; i < 6; i++) {
      ceilings.push(top.ceilingMs)
      assert.ok(top.next() < top.ceilingMs || top.ceilingMs === 1_000)
    }
    assert.deepEqual(ceilings, [100, 200, 400, 800, 1_000, 1_000])
    const bottom = new Backoff({ initialMs: 100, maxMs: 1_000, random: () => 0 })
    assert.equal(bottom.next(), 0)
  })

  it('stays within [0, ceiling) for any random draw', () => {
    const b = new Backoff({ initialMs: 50, maxMs: 10_000 })
    for (let i = 0; i < 200; i++) {
      const ceiling = b.ceilingMs
      const d = b.next()
      assert.ok(d >= 0 && d < ceiling, `${d} outside [0, ${ceiling})`)
    }
    assert.equal(b.ceilingMs, 10_000)
  })

  it('reset() starts over', () => {
    const b = new Backoff({ initialMs: 10, maxMs: 1_000 })
    b.next()
    b.next()
    assert.equal(b.attempt, 2)
    b.reset()
    assert.equal(b.attempt, 0)
    assert.equal(b.ceilingMs, 10)
  })

  it('rejects a nonsensical range', () => {
    assert.throws(() => new Backoff({ initialMs: 0, maxMs: 10 }), RangeError)
    assert.throws(() => new Backoff({ initialMs: 10, maxMs: 5 }), RangeError)
  })
})
