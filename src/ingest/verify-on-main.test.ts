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
    // Its first event reads the first window; with no verification measured yet, it moves.
    assert.equal(window(100, 0.3), 100)
    assert.equal(place.onMain, true)
  })

  test('moves to the workers after two windows in a row over the target', () => {
    const { place, window } = rig(0.8)
    window(100, 0.5)
    assert.equal(window(300, 1), 300)
    // One window over (a collection, a checkpoint) is not enough.
    assert.equal(window(300, 1), 300)
    assert.equal(place.onMain, true)
    assert.equal(window(300, 0.5), 0, 'gone after the second')
    assert.equal(place.onMain, false)
  })

  test('one window over between windows under it moves nothing', () => {
    const { place, window } = rig(0.8)
    window(10, 0.5)
    for (const busy of [0.95, 0.5, 0.95, 0.5, 0.95, 0.5]) assert.equal(window(100, busy), 100)
    assert.equal(place.onMain, true)
  })

  test("comes back once the window's events would fit on the main thread with room to spare", () => {
    const { place, window } = rig(0.9)
    window(10, 0.5)
    for (let i = 0; i < 10; i++) place.ran(0.25)
    window(300, 1)
    window(300, 1)
    window(300, 1)
    assert.equal(place.onMain, false)
    // 3,000/s at 0.3 busy: 0.3 + 3,000 × 0.25 ms = 1.05, over 0.81 (0.9 less 10%).
    assert.equal(window(300, 0.3), 0)
    assert.equal(window(300, 0.3), 0)
    // 2,000/s at 0.25 busy: 0.25 + 0.5 = 0.75. This window's events still go to the workers; the
    // next window's not.
    assert.equal(window(200, 0.25), 0)
    assert.equal(window(200, 0.25), 200)
  })

  test('what keeps the main thread busy besides verifying holds the events in the workers while it lasts', () => {
    const { place, window } = rig(0.9)
    window(10, 0.5)
    place.ran(0.25)
    window(50, 1)
    window(50, 1)
    // 500/s, but the main thread is busy with something else (a restart's new identities).
    assert.equal(window(50, 0.7), 0)
    assert.equal(window(50, 0.7), 0)
    assert.equal(window(50, 0.2), 0)
    // Once it has passed: 0.2 + 0.125.
    assert.equal(window(50, 0.2), 50)
    assert.equal(place.onMain, true)
  })

  test("a verification's cost is an average of the recent ones", () => {
    const { place } = rig(0.9)
    assert.equal(place.costMs, 0)
    place.ran(0.3)
    assert.equal(place.costMs, 0.3)
    // Each new one weighs 2%: one slow verification moves it little.
    place.ran(10.3)
    assert.ok(Math.abs(place.costMs - 0.5) < 1e-9, `${place.costMs}`)
    for (let i = 0; i < 500; i++) place.ran(0.2)
    assert.ok(Math.abs(place.costMs - 0.2) < 0.001, `${place.costMs}`)
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
