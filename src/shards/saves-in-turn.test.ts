// The shards' checkpoint saves on SQLite: one at a time, in shard order, every one of them even
// after one failed, with the outcomes `Promise.allSettled` would give.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { inTurn } from './saves-in-turn.ts'

describe('checkpoint saves in turn', () => {
  it('runs one save at a time, in order, each after the one before has finished', async () => {
    const events: string[] = []
    let running = 0
    const out = await inTurn([0, 1, 2], async (i) => {
      running++
      assert.equal(running, 1, 'one save at a time')
      events.push(`start ${i}`)
      await new Promise((r) => setTimeout(r, 5))
      events.push(`end ${i}`)
      running--
      return i * 10
    })
    assert.deepEqual(events, ['start 0', 'end 0', 'start 1', 'end 1', 'start 2', 'end 2'])
    assert.deepEqual(out, [
      { status: 'fulfilled', value: 0 },
      { status: 'fulfilled', value: 10 },
      { status: 'fulfilled', value: 20 },
    ])
  })

  it('goes on after a failed save, and reports each failure where it happened', async () => {
    const ran: number[] = []
    const out = await inTurn([0, 1, 2], async (i) => {
      ran.push(i)
      if (i === 1) throw new Error('disk full')
      return i
    })
    assert.deepEqual(ran, [0, 1, 2])
    assert.equal(out[0]!.status, 'fulfilled')
    assert.equal(out[1]!.status, 'rejected')
    assert.match(String((out[1] as PromiseRejectedResult).reason), /disk full/)
    assert.equal(out[2]!.status, 'fulfilled')
  })
})
