import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { PLACE_WINDOW_MS, VerifyOnMain } from './verify-on-main.ts'

/** A decider on a hand-moved clock, whose event loop reads as `busy` over each window. */
function rig(target: number) {
  let clock = 1_000
  const reading = { busy: 0, reads: 0 }
  const place = new VerifyOnMain({
    target,
    busySinceLast: () => {
      reading.reads++
      return reading.busy
    },
    now: () => clock,
  })
  /**
   * One window of `n` events during which the event loop was `busy` (read by the next window's
   * first event, which decides where that window's go): how many of them the main thread took.
   */
  const window = (n: number, busy = reading.busy): number => {
    let taken = 0
    for (let i = 0; i < n; i++) if (place.take()) taken++
    reading.busy = busy
    clock += PLACE_WINDOW_MS
    return taken
  }
  return { place, reading, window }
}

describe('VerifyOnMain', () => {
  test('starts in the workers and moves to the main thread after one window', () => {
    const { place, window } = rig(0.9)
    // A restart's catch-up goes to the workers first.
    assert.equal(window(100, 0.2), 0)
    assert.equal(place.ceiling, Number.POSITIVE_INFINITY)
    // Its first event reads the first window: the rate is under a ceiling not known yet.
    assert.equal(window(100, 0.3), 100)
    assert.equal(place.onMain, true)
  })

  test('moves to the workers after two windows over the target, with the ceiling they show', () => {
    const { place, window } = rig(0.8)
    window(100, 0.5)
    // 300 events a window: 3,000 a second.
    assert.equal(window(300, 1), 300)
    // One window over (a collection, a checkpoint) is not enough.
    assert.equal(window(300, 1), 300)
    assert.equal(place.onMain, true)
    assert.equal(window(300, 0.5), 0, 'gone after the second')
    // 3,000/s at busy 1, so 2,400/s at the target 0.8, less the margin of 10%.
    assert.ok(Math.abs(place.ceiling - 2_160) < 1e-6, `${place.ceiling}`)
  })

  test('one window over between windows under it moves nothing', () => {
    const { place, window } = rig(0.8)
    window(10, 0.5)
    for (const busy of [0.95, 0.5, 0.95, 0.5, 0.95, 0.5]) assert.equal(window(100, busy), 100)
    assert.equal(place.onMain, true)
    assert.equal(place.ceiling, Number.POSITIVE_INFINITY)
  })

  test('comes back once the rate is under the ceiling, not before', () => {
    const { place, window } = rig(0.9)
    window(10, 0.5)
    window(300, 1)
    window(300, 1)
    window(300, 1)
    const ceiling = place.ceiling
    assert.ok(Math.abs(ceiling - 2_430) < 1e-6, `${ceiling}`)
    // 2,500/s: over it (and the ceiling creeps up a little each time).
    assert.equal(window(250), 0)
    assert.equal(window(250), 0)
    assert.ok(place.ceiling > ceiling && place.ceiling < ceiling * 1.01)
    // 2,000/s: under it. This window's events still go to the workers; the next window's not.
    assert.equal(window(200), 0)
    assert.equal(window(200), 200)
  })

  test('the ceiling creeps up ~12% a minute in the workers, so a faster main thread is tried again', () => {
    const { place, window } = rig(0.9)
    window(10, 0.5)
    window(300, 1)
    window(300, 1)
    window(300, 1)
    assert.ok(place.ceiling < 2_500)
    // A minute at 2,500/s, just over it.
    let taken = 0
    for (let i = 0; i < 600; i++) taken += window(250, 0.5)
    assert.ok(taken > 0, 'tried again within the minute')
    assert.ok(taken < 600 * 250 - 100 * 250, 'not at once')
  })

  test('reads the event loop once a window, not once an event', () => {
    const { reading, window } = rig(0.9)
    const before = reading.reads
    window(1_000)
    window(1_000)
    assert.equal(reading.reads - before, 1)
  })

  test('a target of 0 keeps every event in the workers and 1 on the main thread, reading nothing', () => {
    for (const [target, expected] of [
      [0, 0],
      [1, 50],
    ] as const) {
      const { place, reading, window } = rig(target)
      assert.equal(window(50, 0), expected)
      assert.equal(window(50, 1), expected)
      place.decide(10, 1)
      place.decide(10, 1)
      assert.equal(window(50, 0.5), expected)
      assert.equal(reading.reads, 0)
    }
  })
})
