import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { overBudget, totalBuffered } from './buffer-budget.ts'

const holders = (...sizes: number[]) => sizes.map((buffered, id) => ({ id, buffered }))

describe('buffer budget', () => {
  it('sums what every holder has buffered', () => {
    assert.equal(totalBuffered(holders(1, 2, 3)), 6)
    assert.equal(totalBuffered([]), 0)
  })

  it('cuts nobody while the total is within the budget', () => {
    assert.deepEqual(overBudget(holders(5, 5), 10, 10), [])
  })

  it('cuts the largest buffers first, as few as needed', () => {
    // Total 100 (20 of it held by sockets that cannot be cut), budget 70: cutting the 30 is enough.
    const cut = overBudget(holders(10, 30, 25, 15), 100, 70)
    assert.deepEqual(
      cut.map((h) => h.id),
      [1],
    )
    const more = overBudget(holders(10, 30, 25, 15), 100, 45)
    assert.deepEqual(
      more.map((h) => h.id),
      [1, 2],
    )
  })

  it('never cuts a holder with nothing buffered, even when it cannot get under', () => {
    const cut = overBudget(holders(0, 4, 0), 50, 10)
    assert.deepEqual(
      cut.map((h) => h.id),
      [1],
    )
  })
})
