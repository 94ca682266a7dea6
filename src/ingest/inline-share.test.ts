import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { InlineShare, SHARE_WINDOW_MS } from './inline-share.ts'

/** A share on a hand-moved clock, whose event loop reads as `busy` over each window. */
function rig(target: number) {
  let clock = 1_000
  const reading = { busy: 0, reads: 0 }
  const share = new InlineShare({
    target,
    busySinceLast: () => {
      reading.reads++
      return reading.busy
    },
    now: () => clock,
  })
  /** `n` events in one window, then the clock moves to the next: how many this thread took. */
  const window = (n: number): number => {
    let taken = 0
    for (let i = 0; i < n; i++) if (share.take()) taken++
    clock += SHARE_WINDOW_MS
    return taken
  }
  return { share, reading, window }
}

describe('InlineShare', () => {
  test('starts with none, and grows while the event loop is under the target', () => {
    const { share, reading, window } = rig(0.9)
    reading.busy = 0.1
    // The first window runs before any reading: nothing taken, so a restart's catch-up goes to
    // the workers first.
    assert.equal(window(100), 0)
    const taken = [window(100), window(100), window(100)]
    // +0.5 × (0.9 − 0.1) = +0.4 a window: 40, then 80, then all 100.
    assert.deepEqual(taken, [40, 80, 100])
    assert.equal(share.share, 1)
  })

  test('gives events back four times as fast as it takes them, once over the target', () => {
    const { share, reading, window } = rig(0.5)
    reading.busy = 0
    // Steered at each window's first event, from the window before: +0.25 twice.
    window(10)
    window(10)
    window(10)
    assert.equal(share.share, 0.5)
    // Over by 0.2: −0.4, where under by 0.2 would have been +0.1.
    reading.busy = 0.7
    window(10)
    assert.ok(Math.abs(share.share - 0.1) < 1e-9, `${share.share}`)
    window(10)
    assert.equal(share.share, 0)
    assert.equal(window(100), 0)
  })

  test('settles where the reading meets the target', () => {
    const { share, reading, window } = rig(0.8)
    reading.busy = 0.8
    window(10)
    window(10)
    assert.equal(share.share, 0)
    reading.busy = 0.6
    window(10)
    reading.busy = 0.8
    const before = share.share
    window(10)
    window(10)
    assert.equal(share.share, before)
  })

  test('takes its share evenly, not in runs', () => {
    const { share } = rig(0.9)
    share.steer(0.4) // +0.25, within the first window
    const picks: boolean[] = []
    for (let i = 0; i < 8; i++) picks.push(share.take())
    assert.deepEqual(picks, [false, false, false, true, false, false, false, true])
  })

  test('reads the event loop once a window, not once an event', () => {
    const { reading, window } = rig(0.9)
    const before = reading.reads
    window(1_000)
    window(1_000)
    assert.equal(reading.reads - before, 1)
  })

  test('a target of 0 takes nothing and 1 takes everything, without reading the event loop', () => {
    for (const [target, expected] of [
      [0, 0],
      [1, 50],
    ] as const) {
      const { share, reading, window } = rig(target)
      reading.busy = 0
      assert.equal(window(50), expected)
      reading.busy = 1
      assert.equal(window(50), expected)
      share.steer(0.5)
      assert.equal(window(50), expected)
      assert.equal(reading.reads, 0)
    }
  })
})
