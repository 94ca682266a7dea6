import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RunningTotal } from './running-total.ts'

test('RunningTotal never goes down when objects vanish, are replaced or reset', () => {
  const t = new RunningTotal<number>()
  const a = {}
  const b = {}
  assert.equal(
    t.update([
      [1, a, 10],
      [2, b, 5],
    ]),
    15,
  )
  // Key 2 vanished: its last seen 5 is kept.
  assert.equal(t.update([[1, a, 12]]), 17)
  // Key 1 replaced by another owner that has counted 3 so far.
  const a2 = {}
  assert.equal(t.update([[1, a2, 3]]), 20)
  // Same owner, count went down (a reset): the old value is kept.
  assert.equal(t.update([[1, a2, 1]]), 21)
  assert.equal(t.update([]), 21)
})
