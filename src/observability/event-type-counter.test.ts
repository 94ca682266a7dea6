import assert from 'node:assert/strict'
import { test } from 'node:test'
import { EVENT_TYPES, EventTypeCounter } from './event-type-counter.ts'

test('EventTypeCounter counts per host and type, totals over hosts, ignores other types', () => {
  const c = new EventTypeCounter()
  c.add(1, '#commit')
  c.add(1, '#commit')
  c.add(1, '#identity')
  c.add(2, '#account')
  c.add(2, '#sync')
  c.add(2, '#info')
  c.add(3, 'bogus')
  assert.equal(c.get(1, '#commit'), 2)
  assert.equal(c.get(1, '#sync'), 0)
  assert.equal(c.get(9, '#commit'), 0)
  assert.equal(c.hostTotal(1), 3)
  assert.equal(c.hostTotal(2), 2)
  assert.equal(c.hostTotal(3), 0)
  assert.deepEqual(EVENT_TYPES, ['#commit', '#sync', '#identity', '#account'])
  assert.deepEqual(c.totals(), [2, 1, 1, 1])
})
