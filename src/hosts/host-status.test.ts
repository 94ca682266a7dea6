import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  formatDuration,
  type HostStatus,
  HostStatusMachine,
  type HostStatusOptions,
} from './host-status.ts'

interface Transition {
  readonly hostId: number
  readonly from: HostStatus
  readonly to: HostStatus
  readonly reason: string
}

/** When an offline host is retried next, as the machine describes it. */
const nextRetryAt = (m: HostStatusMachine, id: number) => m.describe(id)?.nextRetryAt ?? null

const MIN = 60_000
const HOUR = 60 * MIN
const H = 7

function setup(opts: Partial<HostStatusOptions> = {}) {
  const clock = { t: 1_700_000_000_000 }
  const log: Transition[] = []
  let machine: HostStatusMachine | null = null
  const m = new HostStatusMachine({
    now: () => clock.t,
    random: () => 0.5,
    ...opts,
    onTransition: (hostId, from, to, reason) => {
      // Every report is a real change that already took effect.
      assert.notEqual(from, to)
      assert.equal(machine?.status(hostId), to)
      assert.ok(reason.length > 0)
      log.push({ hostId, from, to, reason })
    },
  })
  machine = m
  const advance = (ms: number) => {
    clock.t += ms
  }
  /** Transitions since the last call. */
  const take = () => log.splice(0)
  return { m, clock, advance, take }
}

function failTimes(m: HostStatusMachine, n: number, error = 'ECONNREFUSED'): void {
  for (let i = 0; i < n; i++) m.connectFailed(H, error)
}

describe('HostStatusMachine options', () => {
  it('refuses nonsense', () => {
    const onTransition = () => {}
    assert.throws(
      () => new HostStatusMachine({ onTransition, offlineAfterFailures: 0 }),
      RangeError,
    )
    assert.throws(
      () => new HostStatusMachine({ onTransition, offlineAfterFailures: 1.5 }),
      RangeError,
    )
    assert.throws(
      () => new HostStatusMachine({ onTransition, offlineRetry: { initialMs: 10, maxMs: 5 } }),
      RangeError,
    )
    assert.throws(
      () => new HostStatusMachine({ onTransition, offlineRetry: { initialMs: 0, maxMs: 5 } }),
      RangeError,
    )
    assert.throws(() => new HostStatusMachine({ onTransition, idleAfterMs: 0 }), RangeError)
    assert.throws(() => new HostStatusMachine({ onTransition, throttledAfterMs: -1 }), RangeError)
    assert.throws(
      () => new HostStatusMachine({ onTransition, healthyAfterMs: Number.NaN }),
      RangeError,
    )
  })
})

describe('load', () => {
  it('sets the stored status without reporting a transition', () => {
    const { m, take } = setup()
    for (const [id, s] of [
      [1, 'active'],
      [2, 'idle'],
      [3, 'throttled'],
      [4, 'banned'],
      [5, 'offline'],
    ] as const) {
      m.load(id, s)
      assert.equal(m.status(id), s)
    }
    assert.deepEqual(take(), [])
    assert.equal(m.status(99), undefined)
    assert.equal(m.describe(99), undefined)
  })

  it('gives a host loaded offline a first retry within the initial delay', () => {
    for (const r of [0, 0.5, 0.999999]) {
      const { m, clock } = setup({
        random: () => r,
        offlineRetry: { initialMs: 5 * MIN, maxMs: 6 * HOUR },
      })
      m.load(H, 'offline', 'was offline')
      const at = nextRetryAt(m, H)
      assert.ok(at !== null && at >= clock.t && at < clock.t + 5 * MIN)
      assert.equal(m.describe(H)?.reason, 'was offline')
    }
  })

  it('moves a host loaded throttled back to active when no rate-limit hold is reported', () => {
    const { m, take } = setup()
    m.load(H, 'throttled')
    m.tick()
    assert.deepEqual(
      take().map((t) => [t.from, t.to]),
      [['throttled', 'active']],
    )
  })
})

describe('offline', () => {
  it('goes offline after N consecutive failures, quoting the last error', () => {
    const { m, take } = setup({ offlineAfterFailures: 3 })
    m.load(H, 'active')
    failTimes(m, 2, 'timeout')
    assert.equal(m.status(H), 'active')
    assert.equal(nextRetryAt(m, H), null)
    m.connectFailed(H, 'getaddrinfo ENOTFOUND pds.example')
    const t = take()
    assert.equal(t.length, 1)
    assert.equal(t[0]?.to, 'offline')
    assert.match(t[0]?.reason ?? '', /3 connection failures in a row/)
    assert.match(t[0]?.reason ?? '', /ENOTFOUND pds\.example/)
    assert.equal(m.status(H), 'offline')
    assert.ok(nextRetryAt(m, H) !== null)
  })

  it('truncates a huge error in the reason', () => {
    const { m, take } = setup({ offlineAfterFailures: 1 })
    m.connectFailed(H, 'x'.repeat(10_000))
    assert.ok((take()[0]?.reason.length ?? 0) < 500)
  })

  it('goes offline from idle and from throttled too', () => {
    for (const s of ['idle', 'throttled'] as const) {
      const { m, take } = setup({ offlineAfterFailures: 2 })
      m.load(H, s)
      failTimes(m, 2)
      assert.deepEqual(
        take().map((t) => [t.from, t.to]),
        [[s, 'offline']],
      )
    }
  })

  it('becomes active on the first successful connection', () => {
    const { m, take } = setup({ offlineAfterFailures: 2 })
    failTimes(m, 2)
    take()
    m.connected(H)
    const t = take()
    assert.deepEqual(
      t.map((x) => [x.from, x.to]),
      [['offline', 'active']],
    )
    assert.match(t[0]?.reason ?? '', /connected again/)
    assert.equal(nextRetryAt(m, H), null)
  })

  it('a host loaded offline becomes active when a retry connects', () => {
    const { m, clock, take } = setup()
    m.load(H, 'offline', 'stored')
    clock.t = nextRetryAt(m, H) ?? 0
    assert.deepEqual(m.takeDueRetries(), [H])
    m.connected(H)
    assert.deepEqual(
      take().map((x) => [x.from, x.to, x.reason]),
      [['offline', 'active', 'connected again']],
    )
  })

  it('an event also makes an offline host active', () => {
    const { m, take } = setup({ offlineAfterFailures: 1 })
    m.connectFailed(H, 'x')
    take()
    m.event(H)
    assert.deepEqual(
      take().map((x) => [x.from, x.to]),
      [['offline', 'active']],
    )
  })

  it('does not count the end of a connection that was healthy', () => {
    const { m, advance, take } = setup({ offlineAfterFailures: 2, healthyAfterMs: MIN })
    m.connectFailed(H, 'x')
    m.connected(H)
    advance(MIN)
    m.connectFailed(H, 'closed by host')
    m.connectFailed(H, 'refused')
    assert.equal(m.status(H), 'active')
    assert.equal(m.describe(H)?.consecutiveFailures, 1)
    assert.deepEqual(take(), [])
  })

  it('a tick after healthyAfterMs connected resets the failure count', () => {
    const { m, advance } = setup({ offlineAfterFailures: 3, healthyAfterMs: MIN })
    failTimes(m, 2)
    m.connected(H)
    advance(MIN)
    m.tick()
    assert.equal(m.describe(H)?.consecutiveFailures, 0)
  })

  it('a host that accepts and drops at once stays offline, its retries still growing', () => {
    const init = 10 * MIN
    const { m, clock, take } = setup({
      offlineAfterFailures: 2,
      random: () => 0,
      offlineRetry: { initialMs: init, maxMs: 6 * HOUR },
    })
    failTimes(m, 2)
    const delays: number[] = []
    for (let i = 0; i < 4; i++) {
      const at = nextRetryAt(m, H)
      assert.ok(at !== null)
      delays.push(at - clock.t)
      clock.t = at
      m.connected(H)
      m.connectFailed(H, 'closed by host (code 1006)')
    }
    assert.deepEqual(delays, [init / 2, init, 2 * init, 4 * init])
    const statuses = take().map((x) => x.to)
    assert.deepEqual(statuses, [
      'offline',
      'active',
      'offline',
      'active',
      'offline',
      'active',
      'offline',
      'active',
      'offline',
    ])
  })
})

describe('offline retry schedule', () => {
  const init = 5 * MIN
  const max = 6 * HOUR

  /** Delays of `n` failed retries, the due retry reported as a failure at its time. */
  function delays(random: () => number, n: number, viaTake: boolean): number[] {
    const { m, clock } = setup({
      offlineAfterFailures: 1,
      random,
      offlineRetry: { initialMs: init, maxMs: max },
    })
    m.connectFailed(H, 'x')
    const out: number[] = []
    for (let i = 0; i < n; i++) {
      const at = nextRetryAt(m, H)
      assert.ok(at !== null, 'an offline host always has a next retry time')
      assert.ok(at > clock.t)
      out.push(at - clock.t)
      clock.t = at
      if (viaTake) {
        assert.deepEqual(m.takeDueRetries(), [H])
        assert.deepEqual(m.takeDueRetries(), [], 'taken once')
        m.connectFailed(H, 'still down')
      } else {
        m.connectFailed(H, 'still down')
      }
      assert.equal(m.status(H), 'offline')
    }
    return out
  }

  it('grows ×2 per failed retry and is capped at the maximum', () => {
    for (const viaTake of [false, true]) {
      const low = delays(() => 0, 12, viaTake)
      const ceilings = low.map((d) => d * 2)
      assert.deepEqual(ceilings.slice(0, 8), [
        init,
        2 * init,
        4 * init,
        8 * init,
        16 * init,
        32 * init,
        64 * init,
        max,
      ])
      assert.ok(
        ceilings.slice(7).every((c) => c === max),
        'stays at the cap, never abandoned',
      )
    }
  })

  it('is jittered within [ceiling/2, ceiling)', () => {
    const { m } = setup({ offlineRetry: { initialMs: init, maxMs: max } })
    const high = delays(() => 0.999999, 12, false)
    high.forEach((d, i) => {
      const c = m.retryCeilingMs(i)
      assert.ok(d < c && d >= c - 1 - c * 0.000001, `${d} near ${c}`)
    })
    const seen = new Set<number>()
    for (let run = 0; run < 20; run++) {
      delays(Math.random, 12, run % 2 === 0).forEach((d, i) => {
        const c = m.retryCeilingMs(i)
        assert.ok(d >= c / 2 && d < c, `retry ${i}: ${d} within [${c / 2}, ${c})`)
        if (i === 0) seen.add(d)
      })
    }
    assert.ok(seen.size > 1, 'jitter varies')
  })

  it('ignores failures reported before the retry is due (the old connection)', () => {
    const { m, clock } = setup({ offlineAfterFailures: 1 })
    m.connectFailed(H, 'x')
    const at = nextRetryAt(m, H)
    clock.t += 1000
    failTimes(m, 5, 'late report')
    assert.equal(nextRetryAt(m, H), at)
    assert.equal(m.describe(H)?.retries, 1)
    assert.equal(m.describe(H)?.lastError, 'late report')
  })

  it('a taken retry whose outcome is never reported comes due again later', () => {
    const { m, clock } = setup({ offlineAfterFailures: 1 })
    m.connectFailed(H, 'x')
    for (let i = 0; i < 10; i++) {
      const at = nextRetryAt(m, H)
      assert.ok(at !== null && at > clock.t)
      clock.t = at - 1
      assert.deepEqual(m.takeDueRetries(), [])
      clock.t = at
      assert.deepEqual(m.takeDueRetries(), [H])
    }
  })

  it('restarts from the first step once the host proved healthy', () => {
    const { m, clock, advance } = setup({
      offlineAfterFailures: 1,
      random: () => 0,
      offlineRetry: { initialMs: init, maxMs: max },
      healthyAfterMs: MIN,
    })
    m.connectFailed(H, 'x')
    for (let i = 0; i < 3; i++) {
      clock.t = nextRetryAt(m, H) ?? 0
      m.connectFailed(H, 'x')
    }
    clock.t = nextRetryAt(m, H) ?? 0
    m.connected(H)
    advance(MIN)
    m.tick()
    m.connectFailed(H, 'closed by host')
    assert.equal(m.status(H), 'active', 'a healthy end is not a failure')
    m.connectFailed(H, 'refused')
    assert.equal(nextRetryAt(m, H), clock.t + init / 2)
  })

  it('never stuck: random reports keep every offline host with a future-or-due retry time', () => {
    let seed = 42
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed / 2 ** 31
    }
    const { m, clock } = setup({ offlineAfterFailures: 3, random: rand })
    const ids = [1, 2, 3, 4, 5]
    for (const id of ids) m.load(id, rand() < 0.5 ? 'offline' : 'active')
    for (let step = 0; step < 5000; step++) {
      clock.t += Math.floor(rand() * 10 * MIN)
      const id = ids[Math.floor(rand() * ids.length)] ?? 1
      const r = rand()
      if (r < 0.55) m.connectFailed(id, 'down')
      else if (r < 0.62) m.connected(id)
      else if (r < 0.68) m.event(id)
      else if (r < 0.7) m.futureCursor(id)
      else if (r < 0.75) m.rateLimited(id, Math.floor(rand() * 10 * MIN))
      else if (r < 0.8) m.rateOk(id)
      else if (r < 0.81) m.banned(id, 'operator')
      else if (r < 0.83) m.unbanned(id)
      else if (r < 0.9) m.takeDueRetries()
      else m.tick()
      for (const h of ids) {
        const info = m.describe(h)
        if (info?.status !== 'offline') continue
        assert.ok(info.nextRetryAt !== null, `host ${h} offline without a retry time`)
        assert.ok(info.nextRetryAt - clock.t <= 6 * HOUR, 'never further away than the cap')
      }
    }
  })
})

describe('idle', () => {
  it('a connected host without events for idleAfterMs goes idle; an event makes it active', () => {
    const { m, advance, take } = setup({ idleAfterMs: HOUR })
    m.load(H, 'active')
    m.connected(H)
    m.event(H)
    advance(HOUR - 1)
    m.tick()
    assert.deepEqual(take(), [])
    advance(1)
    m.tick()
    const t = take()
    assert.deepEqual(
      t.map((x) => [x.from, x.to]),
      [['active', 'idle']],
    )
    assert.match(t[0]?.reason ?? '', /no events for 1h/)
    m.tick()
    assert.deepEqual(take(), [], 'no idle → idle')
    m.event(H)
    const back = take()
    assert.deepEqual(
      back.map((x) => [x.from, x.to]),
      [['idle', 'active']],
    )
  })

  it('events keep a host active, and a host that is not connected never goes idle', () => {
    const { m, advance, take } = setup({ idleAfterMs: HOUR })
    m.connected(H)
    for (let i = 0; i < 10; i++) {
      advance(HOUR / 2)
      m.event(H)
      m.tick()
    }
    m.connectFailed(H, 'x')
    advance(10 * HOUR)
    m.tick()
    assert.deepEqual(take(), [])
  })

  it('a reconnect does not restart the silence; coming back from offline does', () => {
    const { m, advance, take } = setup({ idleAfterMs: HOUR, offlineAfterFailures: 2 })
    m.connected(H)
    advance(HOUR / 2)
    m.connectFailed(H, 'closed by host')
    m.connected(H)
    advance(HOUR / 2)
    m.tick()
    assert.deepEqual(
      take().map((x) => [x.from, x.to]),
      [['active', 'idle']],
    )
    failTimes(m, 3) // the first ends a healthy connection: not a failure
    assert.equal(m.status(H), 'offline')
    advance(HOUR)
    m.connected(H)
    take()
    advance(HOUR - 1)
    m.tick()
    assert.deepEqual(take(), [], 'a fresh hour after coming back')
    advance(1)
    m.tick()
    assert.equal(m.status(H), 'idle')
  })

  it('FutureCursor makes a host idle until its next event', () => {
    const { m, take } = setup({ offlineAfterFailures: 2 })
    m.connected(H)
    m.futureCursor(H)
    const t = take()
    assert.deepEqual(
      t.map((x) => [x.from, x.to]),
      [['active', 'idle']],
    )
    assert.match(t[0]?.reason ?? '', /FutureCursor/)
    // The connection ends and is retried with the same cursor: still idle, never offline.
    for (let i = 0; i < 10; i++) {
      m.connectFailed(H, 'FutureCursor')
      m.connected(H)
      m.futureCursor(H)
    }
    assert.deepEqual(take(), [])
    m.event(H)
    assert.deepEqual(
      take().map((x) => [x.from, x.to]),
      [['idle', 'active']],
    )
  })
})

describe('throttled', () => {
  it('a sustained rate-limit hold throttles; flowing again makes it active', () => {
    const { m, advance, take } = setup({ throttledAfterMs: 5 * MIN })
    m.connected(H)
    m.rateLimited(H, 0)
    advance(5 * MIN - 1)
    m.tick()
    assert.deepEqual(take(), [])
    advance(1)
    m.tick()
    const t = take()
    assert.deepEqual(
      t.map((x) => [x.from, x.to]),
      [['active', 'throttled']],
    )
    assert.match(t[0]?.reason ?? '', /rate limit for 5m/)
    m.event(H)
    m.tick()
    assert.deepEqual(take(), [], 'events alone do not lift it')
    m.rateOk(H)
    assert.deepEqual(
      take().map((x) => [x.from, x.to]),
      [['throttled', 'active']],
    )
  })

  it('the reported hold time counts at once, and a short hold does not', () => {
    const { m, take } = setup({ throttledAfterMs: 5 * MIN })
    m.load(H, 'idle')
    m.rateLimited(H, MIN)
    m.rateOk(H)
    m.rateLimited(H, MIN)
    assert.deepEqual(take(), [])
    m.rateLimited(H, 6 * MIN)
    assert.deepEqual(
      take().map((x) => [x.from, x.to]),
      [['idle', 'throttled']],
    )
  })
})

describe('banned', () => {
  it('wins over every status and ignores everything but unbanned', () => {
    for (const s of ['active', 'idle', 'offline', 'throttled'] as const) {
      const { m, advance, take } = setup({ offlineAfterFailures: 1 })
      m.load(H, s)
      m.banned(H, 'domain ban: example.com')
      const t = take()
      assert.deepEqual(
        t.map((x) => [x.from, x.to, x.reason]),
        [[s, 'banned', 'domain ban: example.com']],
      )
      assert.equal(nextRetryAt(m, H), null)
      m.banned(H, 'again')
      m.connected(H)
      m.event(H)
      m.futureCursor(H)
      failTimes(m, 5)
      m.rateLimited(H, HOUR)
      m.rateOk(H)
      advance(10 * HOUR)
      m.tick()
      assert.deepEqual(m.takeDueRetries(), [])
      assert.deepEqual(take(), [])
      assert.equal(m.status(H), 'banned')
      m.unbanned(H)
      assert.deepEqual(
        take().map((x) => [x.from, x.to]),
        [['banned', 'active']],
      )
      assert.equal(m.describe(H)?.consecutiveFailures, 0)
    }
  })

  it('unbanned on a host that is not banned does nothing', () => {
    const { m, take } = setup()
    m.unbanned(H)
    m.load(H, 'offline')
    m.unbanned(H)
    assert.equal(m.status(H), 'offline')
    assert.deepEqual(take(), [])
  })

  it('an unknown host can be banned', () => {
    const { m, take } = setup()
    m.banned(H, 'operator')
    assert.deepEqual(
      take().map((x) => [x.from, x.to]),
      [['active', 'banned']],
    )
  })
})

describe('formatDuration', () => {
  it('reads well', () => {
    assert.equal(formatDuration(0), '0s')
    assert.equal(formatDuration(12_400), '12s')
    assert.equal(formatDuration(5 * MIN), '5m')
    assert.equal(formatDuration(4 * MIN + 30_000), '4m 30s')
    assert.equal(formatDuration(HOUR), '1h')
    assert.equal(formatDuration(HOUR + 5 * MIN), '1h 5m')
    assert.equal(formatDuration(-5), '0s')
  })
})
