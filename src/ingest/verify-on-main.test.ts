import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  FIRST_WAIT_MS,
  GOOD_STAY_MS,
  LONGEST_WAIT_MS,
  PLACE_WINDOW_MS,
  VerifyOnMain,
} from './verify-on-main.ts'

/** A decider on a hand-moved clock, whose event loop reads as `busy` over each window. */
function rig(target: number) {
  const clock = { now: 1_000 }
  const reading = { busy: 0, reads: 0 }
  const place = new VerifyOnMain({
    target,
    busySinceLast: () => {
      reading.reads++
      return reading.busy
    },
    now: () => clock.now,
  })
  /**
   * One window of `n` events during which the event loop was `busy` (read by the next window's
   * first event, which decides where that window's go): how many of them the main thread took.
   */
  const window = (n: number, busy = reading.busy): number => {
    let taken = 0
    for (let i = 0; i < n; i++) if (place.take()) taken++
    reading.busy = busy
    clock.now += PLACE_WINDOW_MS
    return taken
  }
  /** Windows at `busy` for `ms`. */
  const run = (ms: number, busy: number): void => {
    for (let t = 0; t < ms; t += PLACE_WINDOW_MS) window(1, busy)
  }
  return { place, reading, window, run, clock }
}

describe('VerifyOnMain', () => {
  test('starts on the main thread and hands the events over after two windows in a row over the target', () => {
    const { place, window } = rig(0.8)
    assert.equal(window(100, 1), 100)
    // One window over (a collection, a checkpoint) is not enough.
    assert.equal(window(100, 1), 100)
    assert.equal(window(100, 0.5), 0, 'gone after the second')
    assert.equal(place.onMain, false)
  })

  test('one window over between windows under it moves nothing', () => {
    const { place, window } = rig(0.8)
    for (const busy of [0.95, 0.5, 0.95, 0.5, 0.95, 0.5]) assert.equal(window(100, busy), 100)
    assert.equal(place.onMain, true)
  })

  test('tries the main thread again after a wait that doubles while the tries fail, up to 5 minutes', () => {
    const { place, window, run } = rig(0.9)
    run(2 * PLACE_WINDOW_MS, 1)
    window(1)
    assert.equal(place.onMain, false)
    // Leaving at start (not a try) keeps the first wait.
    assert.equal(place.waitMs, FIRST_WAIT_MS)
    const waits: number[] = []
    for (let i = 0; i < 9; i++) {
      // In the workers until the wait is over, whatever the reading.
      let waited = 0
      while (!place.onMain) {
        window(1, 0.1)
        waited += PLACE_WINDOW_MS
      }
      waits.push(waited)
      // A try at a rate the main thread cannot carry: two windows over, and back.
      run(3 * PLACE_WINDOW_MS, 1)
      assert.equal(place.onMain, false)
    }
    // Each wait is the one set before it, give or take the window that saw it end.
    assert.deepEqual(
      waits.map((w) => Math.round(w / 1000)),
      [5, 10, 20, 40, 80, 160, 300, 300, 300],
    )
    assert.equal(place.waitMs, LONGEST_WAIT_MS)
  })

  test('a stay of 30 s or more on the main thread starts the waits again from 5 s', () => {
    const { place, window, run } = rig(0.9)
    run(3 * PLACE_WINDOW_MS, 1)
    run(FIRST_WAIT_MS, 0.2)
    run(3 * PLACE_WINDOW_MS, 1)
    assert.equal(place.waitMs, 2 * FIRST_WAIT_MS)
    run(2 * FIRST_WAIT_MS, 0.2)
    assert.equal(place.onMain, true)
    run(GOOD_STAY_MS, 0.5)
    run(3 * PLACE_WINDOW_MS, 1)
    assert.equal(place.onMain, false)
    assert.equal(place.waitMs, FIRST_WAIT_MS)
    assert.equal(window(10), 0)
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
      const { place, reading, window, clock } = rig(target)
      assert.equal(window(50, 0), expected)
      assert.equal(window(50, 1), expected)
      place.decide(clock.now, 1)
      place.decide(clock.now + 1, 1)
      assert.equal(window(50, 0.5), expected)
      assert.equal(reading.reads, 0)
    }
  })
})
