// StatsRecorder with a fake clock and hand-driven totals: rates per second, the consumer count,
// drops by reason, averaging into longer steps, the ring's bound, counter resets, and the
// `/admin/stats` route's validation of `window` and `step`.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { XrpcError } from '../api/errors.ts'
import type { ApiRequest } from '../api/server.ts'
import { parseDuration, StatsRecorder, type StatsSeries, statsRoutes } from './stats.ts'

function setup(opts: { windowMs?: number } = {}) {
  const t = { now: 1_000_000, in: 0, out: 0, consumers: 0, drops: new Map<string, number>() }
  const rec = new StatsRecorder({
    now: () => t.now,
    windowMs: opts.windowMs,
    sources: {
      eventsIn: () => t.in,
      eventsOut: () => t.out,
      consumers: () => t.consumers,
      drops: () => t.drops,
    },
  })
  return { t, rec }
}

function request(query: string): ApiRequest {
  return {
    method: 'GET',
    path: '/admin/stats',
    query: new URLSearchParams(query),
    body: undefined,
    headers: {},
    remoteAddr: '127.0.0.1',
  }
}

test('rates per second over each 10 s step, consumers as a count, oldest first', () => {
  const { t, rec } = setup()
  rec.sample() // baseline
  t.now += 10_000
  t.in = 100
  t.out = 50
  t.consumers = 2
  t.drops.set('bad-signature', 20)
  rec.sample()
  t.now += 10_000
  t.in = 300
  t.out = 250
  t.consumers = 3
  t.drops.set('bad-signature', 20)
  t.drops.set('non-canonical', 5)
  rec.sample()
  const s = rec.series(3_600_000, 10_000)
  assert.deepEqual(s, {
    step: 10,
    series: {
      eventsIn: [10, 20],
      eventsOut: [5, 20],
      consumers: [2, 3],
      drops: { 'bad-signature': [2, 0], 'non-canonical': [0, 0.5] },
      busy: {},
    },
  })
})

test("the main thread's CPU per event received, weighted by events when steps are averaged", () => {
  const t = { now: 1_000_000, in: 0, cpuMs: 0 }
  const rec = new StatsRecorder({
    now: () => t.now,
    sources: {
      eventsIn: () => t.in,
      eventsOut: () => 0,
      consumers: () => 0,
      drops: () => new Map(),
      mainCpuMs: () => t.cpuMs,
    },
  })
  rec.sample()
  // 10 s: 1,000 events for 100 ms of CPU (100 µs each); then none; then 3,000 for 150 ms (50 µs).
  for (const [events, ms] of [
    [1_000, 100],
    [0, 5],
    [3_000, 150],
  ] as const) {
    t.now += 10_000
    t.in += events
    t.cpuMs += ms
    rec.sample()
  }
  assert.deepEqual(rec.series(3_600_000, 10_000).series.mainUsPerEvent, [100, 0, 50])
  // One 30 s step: 255 ms over 4,000 events, not the mean of the three steps.
  assert.deepEqual(rec.series(3_600_000, 30_000).series.mainUsPerEvent, [63.75])
  // Without the source, no such series.
  assert.equal('mainUsPerEvent' in setup().rec.series(3_600_000, 10_000).series, false)
})

test('no samples yet: empty series', () => {
  const { rec } = setup()
  rec.sample()
  assert.deepEqual(rec.series(3_600_000, 10_000).series, {
    eventsIn: [],
    eventsOut: [],
    consumers: [],
    drops: {},
    busy: {},
  })
})

test('longer steps average the samples, aligned on the newest', () => {
  const { t, rec } = setup()
  rec.sample()
  for (let i = 1; i <= 7; i++) {
    t.now += 10_000
    t.in += i * 10 // rate i per second
    t.consumers = i
    rec.sample()
  }
  const s = rec.series(3_600_000, 30_000)
  assert.equal(s.step, 30)
  // samples 1..7 in buckets [1], [2,3,4], [5,6,7]
  assert.deepEqual(s.series.eventsIn, [1, 3, 6])
  assert.deepEqual(s.series.consumers, [1, 4, 7])
  // a shorter window keeps only the newest points
  assert.deepEqual(rec.series(30_000, 10_000).series.eventsIn, [5, 6, 7])
})

test('busy time as a percent of each thread kind, per thread, averaged into longer steps', () => {
  const busy = new Map<string, { busyMs: number; threads: number }>([
    ['main', { busyMs: 0, threads: 1 }],
    ['verify', { busyMs: 0, threads: 2 }],
  ])
  let now = 0
  const rec = new StatsRecorder({
    now: () => now,
    sources: {
      eventsIn: () => 0,
      eventsOut: () => 0,
      consumers: () => 0,
      drops: () => new Map(),
      busy: () => busy,
    },
  })
  rec.sample()
  // 10 s: main busy 4 s (40%), the two workers 15 s together (75% each).
  now += 10_000
  busy.set('main', { busyMs: 4_000, threads: 1 })
  busy.set('verify', { busyMs: 15_000, threads: 2 })
  rec.sample()
  // 10 s more: main 2 s (20%), workers 5 s (25% each); an archive writer appears.
  now += 10_000
  busy.set('main', { busyMs: 6_000, threads: 1 })
  busy.set('verify', { busyMs: 20_000, threads: 2 })
  busy.set('archive_writer', { busyMs: 1_000, threads: 1 })
  rec.sample()
  // Then one whose count went backwards (a restart): 0, never negative or above 100.
  now += 10_000
  busy.set('main', { busyMs: 100_000, threads: 1 })
  busy.set('verify', { busyMs: 0, threads: 2 })
  rec.sample()
  assert.deepEqual(rec.series(3_600_000, 10_000).series.busy, {
    main: [40, 20, 100],
    verify: [75, 25, 0],
    archive_writer: [0, 0, 0],
  })
  assert.deepEqual(rec.series(3_600_000, 30_000).series.busy, {
    main: [53.333],
    verify: [33.333],
    archive_writer: [0],
  })
})

test('the ring is bounded to the window: the oldest samples are overwritten', () => {
  const { t, rec } = setup({ windowMs: 60_000 })
  rec.sample()
  for (let i = 1; i <= 20; i++) {
    t.now += 10_000
    t.in += i * 10
    rec.sample()
  }
  assert.deepEqual(rec.series(60_000, 10_000).series.eventsIn, [15, 16, 17, 18, 19, 20])
})

test('a counter that goes backwards gives 0 for that step, not a negative rate', () => {
  const { t, rec } = setup()
  t.in = 500
  rec.sample()
  t.now += 10_000
  t.in = 10
  rec.sample()
  t.now += 10_000
  t.in = 110
  rec.sample()
  assert.deepEqual(rec.series(3_600_000, 10_000).series.eventsIn, [0, 10])
})

test('start() takes a baseline and close() stops sampling', () => {
  const { rec } = setup()
  rec.start()
  rec.close()
  rec.close()
  assert.equal(rec.series(3_600_000, 10_000).series.eventsIn.length, 0)
})

test('parseDuration', () => {
  assert.equal(parseDuration('10s'), 10_000)
  assert.equal(parseDuration('5m'), 300_000)
  assert.equal(parseDuration('1h'), 3_600_000)
  for (const bad of ['', '10', 's', '1d', '-1s', '1.5m', ' 1h', '9999999s'])
    assert.equal(parseDuration(bad), null, bad)
})

test('GET /admin/stats: admin-only, defaults, and 400 on bad window or step', async () => {
  const { t, rec } = setup()
  const [route] = statsRoutes([rec])
  assert.ok(route)
  assert.equal(route.admin, true)
  assert.equal(route.path, '/admin/stats')
  rec.sample()
  t.now += 10_000
  t.in = 10
  rec.sample()
  const ok = (await route.handle(request(''))).json as StatsSeries
  assert.equal(ok.step, 10)
  assert.deepEqual(ok.series.eventsIn, [1])
  const ok2 = (await route.handle(request('window=10m&step=1m'))).json as StatsSeries
  assert.equal(ok2.step, 60)
  for (const q of [
    'window=2h',
    'window=abc',
    'window=0s',
    'step=5s',
    'step=15s',
    'step=1x',
    'window=1m&step=2m',
  ]) {
    assert.throws(
      () => route.handle(request(q)),
      (err: unknown) => err instanceof XrpcError && err.status === 400 && err.message.length > 0,
      q,
    )
  }
})

test('GET /admin/stats picks the finest recorder that covers the window (1 h of 10 s, 24 h of 5 min)', async () => {
  const t = { now: 1_000_000, in: 0 }
  const sources = {
    eventsIn: () => t.in,
    eventsOut: () => 0,
    consumers: () => 0,
    drops: () => new Map<string, number>(),
  }
  const fine = new StatsRecorder({ now: () => t.now, sources })
  const coarse = new StatsRecorder({
    now: () => t.now,
    sources,
    stepMs: 300_000,
    windowMs: 86_400_000,
  })
  const [route] = statsRoutes([coarse, fine])
  // Ten minutes at 2 events/s: both recorders see it.
  for (let i = 0; i <= 60; i++) {
    if (i % 30 === 0) coarse.sample()
    fine.sample()
    t.now += 10_000
    t.in += 20
  }
  const hour = (await route!.handle(request('window=1h&step=1m'))).json as StatsSeries
  assert.equal(hour.step, 60)
  assert.equal(
    hour.series.eventsIn.length,
    10,
    'one point per minute of history, from 10 s samples',
  )
  const day = (await route!.handle(request('window=24h&step=5m'))).json as StatsSeries
  assert.equal(day.step, 300)
  assert.deepEqual(day.series.eventsIn, [2, 2], 'two 5-minute points from the day recorder')
  for (const q of ['window=25h', 'window=24h&step=1m']) {
    assert.throws(
      () => route!.handle(request(q)),
      (err: unknown) => err instanceof XrpcError && err.status === 400,
      q,
    )
  }
})
