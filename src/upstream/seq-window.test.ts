import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SeqWindow } from './seq-window.ts'

describe('SeqWindow', () => {
  it('starts at the persisted cursor, or null when live', () => {
    assert.equal(new SeqWindow(42).cursor, 42)
    assert.equal(new SeqWindow(42).last, 42)
    assert.equal(new SeqWindow(null).cursor, null)
  })

  it('advances the cursor only over completed seqs, in seq order', () => {
    const w = new SeqWindow(0)
    for (const s of [1, 2, 3, 4, 5]) w.deliver(s)
    assert.equal(w.inFlight, 5)
    assert.ok(w.complete(3))
    assert.ok(w.complete(2))
    assert.equal(w.cursor, 0)
    assert.ok(w.complete(1))
    assert.equal(w.cursor, 3)
    assert.ok(w.complete(5))
    assert.equal(w.cursor, 3)
    assert.ok(w.complete(4))
    assert.equal(w.cursor, 5)
    assert.equal(w.inFlight, 0)
    assert.equal(w.size, 0)
  })

  it('passes seqs completed on arrival, behind in-flight ones', () => {
    const w = new SeqWindow(null)
    w.pass(7)
    assert.equal(w.cursor, 7)
    w.deliver(9)
    w.pass(12)
    assert.equal(w.cursor, 7)
    assert.equal(w.size, 2)
    w.complete(9)
    assert.equal(w.cursor, 12)
    assert.equal(w.last, 12)
  })

  it('ignores unknown and repeated completions', () => {
    const w = new SeqWindow(0)
    w.deliver(1)
    w.deliver(2)
    assert.equal(w.complete(5), false)
    assert.ok(w.complete(2))
    assert.equal(w.complete(2), false)
    assert.equal(w.inFlight, 1)
  })

  it('refuses seqs that do not increase', () => {
    const w = new SeqWindow(10)
    assert.throws(() => w.deliver(10), RangeError)
    w.deliver(11)
    assert.throws(() => w.pass(11), RangeError)
  })

  it('keeps order through growth and wrap-around under random completion', () => {
    let state = 12345
    const rand = (n: number): number => {
      state = (state * 1103515245 + 12345) % 2 ** 31
      return state % n
    }
    const w = new SeqWindow(null)
    const pending: number[] = []
    const done = new Set<number>()
    let seq = 100
    for (let round = 0; round < 5_000; round++) {
      if (pending.length < 3_000 && rand(3) !== 0) {
        seq += 1 + rand(3)
        if (rand(5) === 0) {
          w.pass(seq)
          done.add(seq)
        } else {
          w.deliver(seq)
          pending.push(seq)
        }
      } else if (pending.length > 0) {
        const [s] = pending.splice(rand(pending.length), 1)
        assert.ok(s !== undefined && w.complete(s))
        done.add(s)
      }
      const oldest = pending.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...pending)
      const expected = Math.max(...[...done].filter((s) => s < oldest), -1)
      assert.equal(w.cursor ?? -1, expected)
      assert.equal(w.inFlight, pending.length)
    }
  })
})
