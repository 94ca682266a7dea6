// The soak's memory verdict: which trend decides "flat", on made-up series whose answer is known.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { GcProbe } from './gc-probe.ts'
import { memoryVerdict, probesCsv, type Sample, slope } from './report.ts'

const RUN_S = 1800 // 30 minutes: warm-up ends at 6 minutes

function sample(t: number, rssMB: number, heapUsedMB = 40): Sample {
  return {
    t,
    rssMB,
    anonMB: rssMB,
    v8PagesMB: 0,
    mallocHeapMB: 0,
    otherAnonMB: rssMB,
    filesMB: 0,
    heapUsedMB,
    heapTotalMB: 80,
    externalMB: 0,
    v8MallocMB: 0,
    workerHeapTotalMB: 0,
    workerHeapUsedMB: 0,
    consumerBufMB: 0,
    fds: 50,
    logMB: 0,
    dbMB: 0,
    offeredPerSec: 300,
    acceptedPerSec: 300,
    deliveredPerSec: 300,
    consumers: 6,
    dropped: 0,
  }
}

/** Every 10 s for the whole run, RSS given as a function of time. */
const series = (rss: (t: number) => number): Sample[] =>
  Array.from({ length: RUN_S / 10 }, (_, i) => sample((i + 1) * 10, rss((i + 1) * 10)))

/** A forced-GC probe every 3 minutes, what is left given as a function of time. */
const probes = (left: (t: number) => number): GcProbe[] =>
  Array.from({ length: RUN_S / 180 }, (_, i) => {
    const t = (i + 1) * 180
    return {
      t,
      rssBeforeMB: left(t) + 60,
      rssAfterMB: left(t),
      heapUsedAfterMB: 30,
      externalAfterMB: 10,
      v8PagesAfterMB: 100,
      otherAnonAfterMB: left(t) - 120,
      workerHeapAfterMB: 40,
      workersCollected: 1,
    }
  })

test('slope is the least-squares slope, 0 for fewer than two points', () => {
  assert.equal(slope([]), 0)
  assert.equal(slope([[1, 5]]), 0)
  assert.equal(
    slope([
      [0, 1],
      [1, 3],
      [2, 5],
    ]),
    2,
  )
})

test('without probes, plain RSS decides: flat saw-tooth is flat, a steady rise is not', () => {
  // A saw-tooth of uncollected garbage around a flat floor.
  const sawTooth = series((t) => 200 + ((t % 90) / 90) * 50)
  const flat = memoryVerdict(sawTooth, RUN_S)
  assert.equal(flat.live, null)
  assert.equal(flat.plainFlat, true)
  assert.equal(flat.flat, true)
  assert.equal(flat.warmupEndS, 360)
  // +10 MB per 10 minutes on a 200 MB base: over the 6 MB limit (3%).
  const rising = memoryVerdict(
    series((t) => 200 + (t / 600) * 10),
    RUN_S,
  )
  assert.equal(rising.plainFlat, false)
  assert.equal(rising.flat, false)
  assert.ok(Math.abs(rising.rssSlope - 10) < 0.01)
})

test('with probes, live memory decides and plain RSS is still reported', () => {
  // Plain RSS climbs (V8 collecting later and later) while what is left after a full GC holds.
  const plainRising = series((t) => 200 + (t / 600) * 20)
  const held = memoryVerdict(
    plainRising,
    RUN_S,
    probes(() => 160),
  )
  assert.equal(held.plainFlat, false)
  assert.ok(held.live)
  assert.equal(held.live.flat, true)
  assert.equal(held.live.probes, 9) // minutes 6, 9, ..., 30
  assert.equal(held.flat, true)
  // A leak: the memory left after each full GC grows by 8 MB per 10 minutes, plain RSS hides it.
  const leak = memoryVerdict(
    series(() => 250),
    RUN_S,
    probes((t) => 150 + (t / 600) * 8),
  )
  assert.equal(leak.plainFlat, true)
  assert.ok(leak.live)
  assert.ok(Math.abs(leak.live.rssSlope - 8) < 0.01)
  // The limit is 3% of the first probe after warm-up (154.8 MB at minute 6).
  assert.ok(Math.abs(leak.live.rssLimit - 0.03 * 154.8) < 1e-9)
  assert.equal(leak.flat, false)
})

test('fewer than three probes after warm-up: plain RSS decides', () => {
  const few = probes(() => 160).filter((p) => p.t < 360 || p.t > 1500)
  assert.equal(
    memoryVerdict(
      series(() => 200),
      RUN_S,
      few,
    ).live,
    null,
  )
})

test('probes.csv has a header and one row per probe', () => {
  const csv = probesCsv(probes(() => 160).slice(0, 2))
  assert.deepEqual(csv.trim().split('\n'), [
    't,rssBeforeMB,rssAfterMB,heapUsedAfterMB,externalAfterMB,v8PagesAfterMB,otherAnonAfterMB,workerHeapAfterMB,workersCollected',
    '180,220,160,30,10,100,40,40,1',
    '360,220,160,30,10,100,40,40,1',
  ])
})
