import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HostSlots } from './host-slots.ts'

describe('HostSlots', () => {
  it('adds the shard’s own changes the main thread has not counted yet', () => {
    const s = new HostSlots()
    assert.equal(s.slots(1), undefined, 'a host not heard of')
    s.heard(1, 5, 10, 0)
    s.changed(1, 1)
    s.changed(1, 1)
    assert.deepEqual(s.slots(1), { count: 7, limit: 10 })
    // The main thread applied one of the two, and another shard's +2 meanwhile.
    s.heard(1, 8, 10, 1)
    assert.deepEqual(s.slots(1), { count: 9, limit: 10 })
    // Both applied, and another shard gave one back.
    s.heard(1, 8, 10, 2)
    assert.deepEqual(s.slots(1), { count: 8, limit: 10 })
  })

  it('keeps counting its own changes across counts that overwrite each other', () => {
    const s = new HostSlots()
    s.heard(2, 0, 3, 0)
    for (let i = 0; i < 3; i++) s.changed(2, 1)
    // A count from before any of them arrives late: the shard still knows the host is full.
    s.heard(2, 0, 3, 0)
    assert.deepEqual(s.slots(2), { count: 3, limit: 3 })
  })
})
