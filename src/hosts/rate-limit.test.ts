import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  checkLimits,
  defaultLimits,
  type HostLimits,
  HostRateLimiter,
  InvalidHostLimitsError,
  limitWindowSeconds,
} from './rate-limit.ts'

const SEC = 1_000
const HOUR = 3_600 * SEC
const DAY = 24 * HOUR

/** A limiter on a fake clock that tests move by hand. */
function setup(opts: { flowGraceMs?: number } = {}) {
  const clock = { t: 0 }
  const rl = new HostRateLimiter({ now: () => clock.t, ...opts })
  return { clock, rl }
}

/**
 * A host that wants to send one event every `intervalMs` and whose socket the caller pauses for
 * whatever `take()` returns (buffered events arrive as soon as the pause ends). Returns how many
 * events went through in `durationMs` and the longest pause.
 */
function drive(
  rl: HostRateLimiter,
  clock: { t: number },
  id: number,
  intervalMs: number,
  durationMs: number,
  onEvent?: (wait: number) => void,
): { events: number; maxWait: number } {
  const end = clock.t + durationMs
  let events = 0
  let maxWait = 0
  while (clock.t < end) {
    const wait = rl.take(id)
    events++
    onEvent?.(wait)
    if (wait > maxWait) maxWait = wait
    clock.t += Math.max(intervalMs, wait)
  }
  return { events, maxWait }
}

function takeN(rl: HostRateLimiter, id: number, n: number): number[] {
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(rl.take(id))
  return out
}

describe('defaultLimits', () => {
  test('the default account limit gives the numbers of the admin host record', () => {
    assert.deepEqual(defaultLimits(100, false), { perSecond: 50, perHour: 2_600, perDay: 21_000 })
    assert.deepEqual(defaultLimits(0, false), { perSecond: 50, perHour: 2_500, perDay: 20_000 })
  })

  test('untrusted limits scale with the account limit', () => {
    assert.deepEqual(defaultLimits(1_000, false), { perSecond: 51, perHour: 3_500, perDay: 30_000 })
    assert.deepEqual(defaultLimits(1_000_000, false), {
      perSecond: 1_050,
      perHour: 1_002_500,
      perDay: 10_020_000,
    })
    // fractional account limits are floored per term
    assert.deepEqual(defaultLimits(1_500.7, false), {
      perSecond: 51,
      perHour: 4_000,
      perDay: 35_007,
    })
    let prev = defaultLimits(0, false)
    for (const n of [1, 10, 999, 1_000, 5_000, 123_456, 10_000_000]) {
      const cur = defaultLimits(n, false)
      assert.ok(cur.perSecond >= prev.perSecond && cur.perHour > prev.perHour)
      assert.ok(cur.perDay > prev.perDay)
      prev = cur
    }
  })

  test('trusted hosts get the trusted floor, and never less than an untrusted host', () => {
    const trusted = { perSecond: 5_000, perHour: 50_000_000, perDay: 500_000_000 }
    assert.deepEqual(defaultLimits(0, true), trusted)
    assert.deepEqual(defaultLimits(100, true), trusted)
    const big = defaultLimits(10_000_000, true)
    assert.deepEqual(big, { perSecond: 10_050, perHour: 50_000_000, perDay: 500_000_000 })
    for (const n of [0, 100, 1e6, 1e8, 1e12]) {
      const t = defaultLimits(n, true)
      const u = defaultLimits(n, false)
      assert.ok(t.perSecond >= u.perSecond && t.perHour >= u.perHour && t.perDay >= u.perDay)
    }
  })

  test('defaults are always valid limits; bad account limits are refused', () => {
    for (const n of [0, 1, 100, 1e15, Number.POSITIVE_INFINITY]) {
      for (const trusted of [false, true]) checkLimits(defaultLimits(n, trusted))
    }
    assert.equal(defaultLimits(Number.POSITIVE_INFINITY, false).perDay, Number.MAX_SAFE_INTEGER)
    assert.throws(() => defaultLimits(-1, false), RangeError)
    assert.throws(() => defaultLimits(Number.NaN, true), RangeError)
  })

  test('windows are one second, one hour and one day', () => {
    assert.deepEqual(limitWindowSeconds, { perSecond: 1, perHour: 3_600, perDay: 86_400 })
  })
})

describe('HostRateLimiter', () => {
  test('refuses limits that are not positive safe integers', () => {
    const { rl } = setup()
    const ok: HostLimits = { perSecond: 10, perHour: 100, perDay: 1_000 }
    for (const field of ['perSecond', 'perHour', 'perDay'] as const) {
      for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
        assert.throws(
          () => rl.set(1, { ...ok, [field]: bad }),
          (err: unknown) => err instanceof InvalidHostLimitsError && err.field === field,
        )
      }
    }
    assert.equal(rl.size, 0)
    rl.set(1, ok)
    assert.throws(() => rl.set(1, { ...ok, perDay: 0 }), InvalidHostLimitsError)
    assert.deepEqual(rl.limits(1), ok, 'a refused change leaves the old limits')
  })

  test('an unknown or removed host is not limited', () => {
    const { rl } = setup()
    assert.equal(rl.take(7), 0)
    assert.equal(rl.wait(7), 0)
    assert.equal(rl.throttledFor(7), 0)
    assert.deepEqual(rl.rates(7), { perSecond: 0, perHour: 0, perDay: 0 })
    assert.equal(rl.limits(7), undefined)
    rl.set(7, { perSecond: 1, perHour: 100, perDay: 100 })
    assert.deepEqual(takeN(rl, 7, 2), [0, 2_000])
    rl.remove(7)
    assert.deepEqual(takeN(rl, 7, 5), [0, 0, 0, 0, 0])
    rl.set(7, { perSecond: 1, perHour: 100, perDay: 100 })
    assert.equal(rl.take(7), 0, 'set again: a fresh budget')
  })

  test('a burst is allowed up to the per-second limit, then the host waits for one token', () => {
    const { clock, rl } = setup()
    rl.set(1, { perSecond: 10, perHour: 1_000, perDay: 10_000 })
    assert.deepEqual(takeN(rl, 1, 10), Array(10).fill(0))
    // the 11th exceeds: it is recorded (one token of debt) and the next event needs one more
    assert.equal(rl.take(1), 200)
    assert.equal(rl.wait(1), 200)
    clock.t = 199
    assert.equal(rl.wait(1), 1)
    clock.t = 200
    assert.equal(rl.wait(1), 0)
    assert.equal(rl.take(1), 0)
    assert.equal(rl.take(1), 200)
  })

  test('budgets refill over time but never beyond the limit', () => {
    const { clock, rl } = setup()
    rl.set(1, { perSecond: 10, perHour: 1_000, perDay: 10_000 })
    takeN(rl, 1, 11)
    clock.t += 5 * SEC
    assert.deepEqual(takeN(rl, 1, 10), Array(10).fill(0))
    assert.ok(rl.take(1) > 0, 'five idle seconds still refill only ten events')
    clock.t += 100
    assert.equal(rl.wait(1), 100, 'half refilled: 100 ms more for the next event')
  })

  test('steady traffic exactly at each limit is never held back', () => {
    const { clock, rl } = setup()
    rl.set(1, { perSecond: 10, perHour: 1_000_000, perDay: 10_000_000 })
    rl.set(2, { perSecond: 100, perHour: 360, perDay: 10_000_000 })
    rl.set(3, { perSecond: 100, perHour: 1_000_000, perDay: 864 })
    const waits = new Set<number>()
    waits.add(drive(rl, clock, 1, 100, 120 * SEC).maxWait) // 10/s for two minutes
    waits.add(drive(rl, clock, 2, 10 * SEC, 3 * HOUR).maxWait) // 360/h for three hours
    waits.add(drive(rl, clock, 3, 100 * SEC, 2 * DAY).maxWait) // 864/day for two days
    assert.deepEqual([...waits], [0])
  })

  test('steady traffic above each limit is slowed to the limit, none of it dropped', () => {
    // expected: the tightest limit's full budget once, then its refill rate
    const cases = [
      {
        limits: { perSecond: 10, perHour: 1e6, perDay: 1e7 },
        interval: 50,
        span: 60 * SEC,
        expected: 10 + 600,
      },
      {
        limits: { perSecond: 100, perHour: 3_600, perDay: 1e7 },
        interval: 200,
        span: 3 * HOUR,
        expected: 3_600 + 10_800,
      },
      {
        limits: { perSecond: 100, perHour: 1e6, perDay: 8_640 },
        interval: SEC,
        span: 2 * DAY,
        expected: 8_640 + 17_280,
      },
    ]
    for (const [i, c] of cases.entries()) {
      const { clock, rl } = setup()
      rl.set(i, c.limits)
      const { events } = drive(rl, clock, i, c.interval, c.span)
      assert.ok(Math.abs(events - c.expected) <= 3, `case ${i}: ${events} events, ~${c.expected}`)
      assert.ok(events < c.span / c.interval, `case ${i}: the host was slowed`)
    }
  })

  test('the hour and day budgets cannot be spent faster than the per-second limit', () => {
    const { clock, rl } = setup()
    rl.set(1, { perSecond: 10, perHour: 1_000_000, perDay: 1_000_000 })
    const { events } = drive(rl, clock, 1, 1, SEC) // wants 1,000 in one second
    assert.ok(events <= 21, `${events} events in the first second`)
  })

  test('exhausting the day budget returns a long wait; debt is bounded to about a day', () => {
    const { clock, rl } = setup()
    rl.set(1, { perSecond: 1_000, perHour: 1_000_000, perDay: 50 })
    assert.deepEqual(takeN(rl, 1, 50), Array(50).fill(0))
    const wait = rl.take(1)
    assert.equal(wait, (2 * DAY) / 50, 'two tokens at 50 per day: 57.6 minutes')
    assert.ok(wait > HOUR * 0.9)
    // a caller that ignores the waits (events still buffered) cannot push the wait past a window
    const waits = takeN(rl, 1, 1_000)
    assert.ok(waits.every((w) => w > 0))
    assert.equal(waits.at(-1), Math.ceil((51 * DAY) / 50))
    clock.t += Math.ceil((51 * DAY) / 50)
    assert.equal(rl.take(1), 0)
  })

  test('the longest of the three waits wins', () => {
    const { rl } = setup()
    rl.set(1, { perSecond: 2, perHour: 2, perDay: 1_000 })
    assert.deepEqual(takeN(rl, 1, 2), [0, 0])
    assert.equal(rl.take(1), HOUR, 'hour: 2 tokens at 2/h; second: 1.5 s')
  })

  test('raising a limit applies at once and frees the extra budget', () => {
    const { clock, rl } = setup()
    rl.set(1, { perSecond: 1_000, perHour: 1_000_000, perDay: 50 })
    takeN(rl, 1, 51)
    clock.t += 10 * SEC
    assert.ok(rl.throttledFor(1) > 0)
    rl.set(1, { perSecond: 1_000, perHour: 1_000_000, perDay: 1_000 })
    assert.equal(rl.wait(1), 0)
    assert.equal(rl.throttledFor(1), 0, 'no longer held back')
    assert.deepEqual(takeN(rl, 1, 900), Array(900).fill(0))
    assert.deepEqual(rl.limits(1), { perSecond: 1_000, perHour: 1_000_000, perDay: 1_000 })
    assert.equal(rl.rates(1).perDay, 951, 'observed counts survive a change of limits')
  })

  test('lowering a limit applies at once: what is left is capped, the refill slows', () => {
    const { clock, rl } = setup()
    rl.set(1, { perSecond: 10, perHour: 1_000, perDay: 10_000 })
    takeN(rl, 1, 8) // two left
    rl.set(1, { perSecond: 3, perHour: 1_000, perDay: 10_000 })
    assert.deepEqual(takeN(rl, 1, 2), [0, 0])
    assert.ok(rl.take(1) > 0)
    rl.set(1, { perSecond: 10, perHour: 1_000, perDay: 10_000 })
    takeN(rl, 1, 6) // 10 - 3 freed, minus the debt of one
    clock.t += 10 * SEC
    rl.set(1, { perSecond: 1, perHour: 1_000, perDay: 10_000 })
    assert.equal(rl.take(1), 0, 'a full bucket is capped at the new limit of one')
    assert.equal(rl.take(1), 2 * SEC, 'and refills at one per second')
    clock.t += 10 * SEC
    rl.set(1, { perSecond: 10, perHour: 1_000, perDay: 2 })
    assert.deepEqual(
      takeN(rl, 1, 3),
      [0, 0, DAY],
      'the day budget capped at two, refilling two a day',
    )
  })

  test('throttledFor grows while a host is continuously over its limit, 0 once it flows', () => {
    const { clock, rl } = setup()
    rl.set(1, { perSecond: 10, perHour: 1_000_000, perDay: 10_000_000 })
    assert.equal(rl.throttledFor(1), 0)
    // 100 events a second: the budget is spent at once, then the host is paused repeatedly
    let first = -1
    let last = 0
    drive(rl, clock, 1, 10, 30 * SEC, (wait) => {
      if (wait > 0 && first < 0) first = clock.t
      const held = rl.throttledFor(1)
      assert.ok(held >= last, 'never resets while the host stays over its limit')
      last = held
    })
    assert.ok(first >= 0 && first < SEC)
    assert.ok(Math.abs(rl.throttledFor(1) - (clock.t - first)) <= 1)
    assert.ok(rl.throttledFor(1) > 28 * SEC)
    // now the host sends 5 a second, under its limit: flowing again after the pause and grace
    const resumedAt = clock.t + rl.wait(1) + 1_000
    drive(rl, clock, 1, 200, 10 * SEC, () => {
      if (clock.t > resumedAt) assert.equal(rl.throttledFor(1), 0)
    })
    assert.equal(rl.throttledFor(1), 0)
  })

  test('throttledFor: a single burst is a short episode that ends by itself', () => {
    const { clock, rl } = setup({ flowGraceMs: 500 })
    rl.set(1, { perSecond: 10, perHour: 1_000, perDay: 10_000 })
    takeN(rl, 1, 10)
    clock.t = 100
    assert.equal(rl.take(1), 0, 'one token refilled and spent: within')
    assert.equal(rl.throttledFor(1), 0)
    assert.equal(rl.take(1), 200, 'over: held back from now')
    clock.t = 300
    assert.equal(rl.throttledFor(1), 200)
    clock.t = 800 // the pause ended at 300; 500 ms of grace
    assert.equal(rl.throttledFor(1), 700)
    clock.t = 801
    assert.equal(rl.throttledFor(1), 0)
    // a new episode starts from scratch
    takeN(rl, 1, 20)
    clock.t = 900
    assert.equal(rl.throttledFor(1), 99)
  })

  test('rates reports observed counts per window, over-limit events included', () => {
    const { clock, rl } = setup()
    rl.set(1, { perSecond: 5, perHour: 1_000_000, perDay: 10_000_000 })
    rl.set(2, { perSecond: 100, perHour: 1_000_000, perDay: 10_000_000 })
    for (let i = 0; i < 30; i++) {
      rl.take(1) // 10 a second against a limit of 5: all counted
      rl.take(2)
      clock.t += 100
    }
    assert.deepEqual(rl.rates(1), { perSecond: 10, perHour: 30, perDay: 30 })
    assert.deepEqual(rl.rates(2), { perSecond: 10, perHour: 30, perDay: 30 })
    clock.t += 2 * SEC
    assert.deepEqual(rl.rates(1), { perSecond: 0, perHour: 30, perDay: 30 })
    clock.t = HOUR + HOUR / 2
    assert.deepEqual(rl.rates(1), { perSecond: 0, perHour: 15, perDay: 30 })
    clock.t = 3 * DAY
    assert.deepEqual(rl.rates(1), { perSecond: 0, perHour: 0, perDay: 0 })
  })

  test('many hosts are limited independently', () => {
    const { clock, rl } = setup()
    const n = 3_000
    const limitOf = (id: number) => 1 + (id % 17)
    for (let id = 0; id < n; id++) {
      rl.set(id, { perSecond: limitOf(id), perHour: 10_000, perDay: 100_000 })
    }
    assert.equal(rl.size, n)
    for (let id = 0; id < n; id++) {
      assert.ok(
        takeN(rl, id, limitOf(id)).every((w) => w === 0),
        `host ${id}`,
      )
    }
    for (let id = 0; id < n; id++) {
      assert.equal(rl.take(id), Math.ceil((2 * SEC) / limitOf(id)), `host ${id}`)
      assert.equal(rl.rates(id).perSecond, limitOf(id) + 1)
    }
    for (let id = 0; id < n; id += 2) rl.remove(id)
    assert.equal(rl.size, n / 2)
    clock.t += 10 * SEC
    for (let id = 1; id < n; id += 2) {
      assert.equal(rl.take(id), 0)
      assert.equal(rl.throttledFor(id), 0)
    }
  })
})
