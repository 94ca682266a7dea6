import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CURSOR_WINDOW_PER_SLOT, FlowControl } from './flow-control.ts'

/** A flow control whose `onChange` calls are recorded. */
function flow(hostConcurrency: number): { fc: FlowControl; changes: boolean[] } {
  const changes: boolean[] = []
  const fc = new FlowControl(hostConcurrency, (paused) => changes.push(paused))
  return { fc, changes }
}

describe('FlowControl in-flight', () => {
  it('pauses when events in flight reach host concurrency', () => {
    const { fc, changes } = flow(4)
    for (let i = 0; i < 3; i++) fc.delivered(0)
    assert.equal(fc.inFlight, 3)
    assert.equal(fc.paused, false)
    assert.deepEqual(changes, [])
    fc.delivered(0)
    assert.equal(fc.inFlight, 4)
    assert.equal(fc.paused, true)
    assert.deepEqual([...fc.reasons], ['in-flight'])
    assert.deepEqual(changes, [true])
  })

  it('resumes only when half of them have settled', () => {
    const { fc, changes } = flow(4)
    for (let i = 0; i < 4; i++) fc.delivered(0)
    fc.settled()
    assert.equal(fc.inFlight, 3)
    assert.equal(fc.paused, true, 'still paused above half')
    assert.deepEqual(changes, [true])
    fc.settled()
    assert.equal(fc.inFlight, 2)
    assert.equal(fc.paused, false)
    assert.deepEqual([...fc.reasons], [])
    assert.deepEqual(changes, [true, false])
  })

  it('rounds half down for an odd concurrency', () => {
    const { fc } = flow(5)
    for (let i = 0; i < 5; i++) fc.delivered(0)
    assert.equal(fc.paused, true)
    fc.settled()
    fc.settled()
    assert.equal(fc.inFlight, 3)
    assert.equal(fc.paused, true)
    fc.settled()
    assert.equal(fc.inFlight, 2)
    assert.equal(fc.paused, false)
  })

  it('treats a concurrency below 1 as 1', () => {
    const { fc, changes } = flow(0)
    fc.delivered(0)
    assert.equal(fc.paused, true)
    fc.settled()
    assert.equal(fc.paused, false)
    assert.deepEqual(changes, [true, false])
  })

  it('never counts below 0 in flight', () => {
    const { fc, changes } = flow(2)
    fc.settled()
    fc.settled()
    assert.equal(fc.inFlight, 0)
    fc.delivered(0)
    assert.equal(fc.inFlight, 1)
    assert.equal(fc.paused, false, 'one settle too many must not give a free slot')
    fc.delivered(0)
    assert.equal(fc.paused, true)
    assert.deepEqual(changes, [true])
  })
})

describe('FlowControl cursor-window', () => {
  const max = 3 * CURSOR_WINDOW_PER_SLOT

  it('pauses when the window reaches CURSOR_WINDOW_PER_SLOT × concurrency', () => {
    const { fc, changes } = flow(3)
    fc.window(max - 1)
    assert.equal(fc.paused, false)
    fc.window(max)
    assert.equal(fc.paused, true)
    assert.deepEqual([...fc.reasons], ['cursor-window'])
    assert.deepEqual(changes, [true])
  })

  it('resumes at half the bound, not before', () => {
    const { fc, changes } = flow(3)
    fc.window(max + 10)
    fc.window((max >> 1) + 1)
    assert.equal(fc.paused, true, 'still paused above half')
    fc.window(max >> 1)
    assert.equal(fc.paused, false)
    assert.deepEqual(changes, [true, false])
  })

  it('stays flowing between half and the bound when not paused', () => {
    const { fc, changes } = flow(3)
    fc.window(max - 1)
    fc.window((max >> 1) + 1)
    assert.equal(fc.paused, false)
    assert.deepEqual(changes, [])
  })

  it('is checked on delivery too', () => {
    const { fc, changes } = flow(3)
    fc.delivered(max)
    assert.equal(fc.inFlight, 1)
    assert.deepEqual([...fc.reasons], ['cursor-window'])
    assert.deepEqual(changes, [true])
  })

  it('ends with the connection: the next connection starts with an empty window', () => {
    // A connection's window is what its own cursor waits for; a new connection resumes from the
    // stored cursor, so a window left full would pause it forever (nothing would shrink it).
    const { fc, changes } = flow(3)
    fc.window(max)
    fc.connectionEnded()
    assert.equal(fc.paused, false)
    fc.window(10)
    assert.equal(fc.paused, false)
    fc.window(max)
    assert.equal(fc.paused, true, 'the new connection is bounded the same way')
    assert.deepEqual(changes, [true, false, true])
  })
})

describe('FlowControl rate-limit', () => {
  it('holds the host until the hold’s timer ends', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const { fc, changes } = flow(10)
    assert.equal(fc.holdForRate(1000), true)
    assert.equal(fc.paused, true)
    assert.deepEqual([...fc.reasons], ['rate-limit'])
    t.mock.timers.tick(999)
    assert.equal(fc.paused, true)
    t.mock.timers.tick(1)
    assert.equal(fc.paused, false)
    assert.deepEqual([...fc.reasons], [])
    assert.deepEqual(changes, [true, false])
  })

  it('keeps a running hold: holdForRate returns false and does not extend it', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const { fc, changes } = flow(10)
    assert.equal(fc.holdForRate(1000), true)
    t.mock.timers.tick(500)
    assert.equal(fc.holdForRate(5000), false)
    t.mock.timers.tick(500)
    assert.equal(fc.paused, false, 'the first hold’s timer ends it')
    assert.equal(fc.holdForRate(200), true, 'a new hold may start once the last ended')
    assert.equal(fc.paused, true)
    t.mock.timers.tick(200)
    assert.equal(fc.paused, false)
    assert.deepEqual(changes, [true, false, true, false])
  })

  it('ends with the connection, and a new hold starts afresh', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const { fc, changes } = flow(10)
    fc.holdForRate(1000)
    fc.connectionEnded()
    assert.equal(fc.paused, false)
    assert.deepEqual(changes, [true, false])
    assert.equal(fc.holdForRate(300), true)
    t.mock.timers.tick(299)
    assert.equal(fc.paused, true, 'the old timer must not end the new hold')
    t.mock.timers.tick(1)
    assert.equal(fc.paused, false)
    assert.deepEqual(changes, [true, false, true, false])
  })

  it('connectionEnded without a hold changes nothing', () => {
    const { fc, changes } = flow(1)
    fc.delivered(0)
    fc.connectionEnded()
    assert.deepEqual([...fc.reasons], ['in-flight'], 'events in flight still count')
    assert.deepEqual(changes, [true])
  })

  it('close stops the timer', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const { fc, changes } = flow(10)
    fc.holdForRate(1000)
    fc.close()
    t.mock.timers.tick(2000)
    assert.deepEqual(changes, [true], 'no resume after close')
  })
})

describe('FlowControl onChange', () => {
  it('is called only on transitions, not when reasons change while paused', (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] })
    const { fc, changes } = flow(2)
    fc.delivered(0)
    fc.delivered(0) // in-flight
    assert.deepEqual(changes, [true])
    fc.window(2 * CURSOR_WINDOW_PER_SLOT) // + cursor-window
    fc.holdForRate(100) // + rate-limit
    assert.deepEqual(new Set(fc.reasons), new Set(['in-flight', 'cursor-window', 'rate-limit']))
    assert.deepEqual(changes, [true])
    fc.settled() // - in-flight
    t.mock.timers.tick(100) // - rate-limit
    assert.deepEqual([...fc.reasons], ['cursor-window'])
    assert.equal(fc.paused, true)
    assert.deepEqual(changes, [true])
    fc.window(0) // - cursor-window: flowing
    assert.equal(fc.paused, false)
    assert.deepEqual(changes, [true, false])
  })

  it('is not called for reasons cleared while flowing', () => {
    const { fc, changes } = flow(4)
    fc.delivered(0)
    fc.settled()
    fc.window(0)
    fc.connectionEnded()
    assert.deepEqual(changes, [])
  })
})
