import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  failedRun,
  judgeRun,
  limitOf,
  MAX_SWEEP_RATES,
  SweepSpecError,
  type SweptResult,
  sweepRates,
  sweepSummary,
  sweptResult,
} from './sweep.ts'

const run = (rate: number, over: Partial<SweptResult> = {}): SweptResult => ({
  rate,
  seconds: 30,
  offeredPerSec: rate,
  deliveredPerSec: rate,
  complete: true,
  latencyMs: { p50: 8, p99: 120 },
  cpuCores: 1.2,
  cpuByThread: { main: 0.4, WorkerThread: 0.7, V8Worker: 0.1, DelayedTaskSche: 0 },
  loadgenCores: 0.2,
  peakRssMB: 350,
  ...over,
})

describe('loadgen sweep', () => {
  test('rates from a range (the end included) or a list, ascending and distinct', () => {
    assert.deepEqual(sweepRates('5000:7000:500'), [5000, 5500, 6000, 6500, 7000])
    assert.deepEqual(sweepRates('5000:6900:1000'), [5000, 6000])
    assert.deepEqual(sweepRates('7000,5000,6000,5000'), [5000, 6000, 7000])
    assert.deepEqual(sweepRates('300'), [300])
    for (const bad of ['', '0:100:10', '100:50:10', '100:200:0', '5000,x', '-1,2', '0,5', '1.5']) {
      assert.throws(() => sweepRates(bad), SweepSpecError, bad)
    }
    assert.throws(() => sweepRates(`1:${MAX_SWEEP_RATES + 1}:1`), SweepSpecError)
    // Counted before any is made: a typo far past the limit is refused at once.
    assert.throws(() => sweepRates('1:99999999999999999999:1'), SweepSpecError)
    assert.equal(sweepRates(`1:${MAX_SWEEP_RATES}:1`).length, MAX_SWEEP_RATES)
  })

  test('a run holds with everything delivered, p99 within the limit and the rate offered', () => {
    assert.deepEqual(judgeRun(run(6000), 200), { held: true })
    assert.deepEqual(judgeRun(run(6000, { latencyMs: { p50: 9, p99: 200 } }), 200), { held: true })
    assert.deepEqual(judgeRun(run(6000, { latencyMs: { p50: 9, p99: 265.4 } }), 200), {
      held: false,
      why: 'p99 265.4 ms over 200 ms',
    })
    assert.deepEqual(judgeRun(run(6000, { complete: false }), 200), {
      held: false,
      why: 'not every event reached every consumer once',
    })
    assert.deepEqual(judgeRun(run(6000, { latencyMs: { p50: 9, p99: null } }), 200), {
      held: false,
      why: 'commits of the window never arrived',
    })
    // A sender 2% short is within its tolerance; 3% short, the run says so before anything else.
    assert.deepEqual(judgeRun(run(6000, { offeredPerSec: 5880 }), 200), { held: true })
    assert.deepEqual(judgeRun(run(6000, { offeredPerSec: 5820, complete: false }), 200), {
      held: false,
      why: 'the load generator offered only 5820/s',
    })
    // At a few dozen events a second the tolerance is three events over the window, not 2%.
    assert.equal(judgeRun(run(40, { seconds: 2, offeredPerSec: 38.5 }), 200).held, true)
    assert.equal(judgeRun(run(40, { seconds: 2, offeredPerSec: 38 }), 200).held, false)
    // Missing figures never read as a run that held.
    assert.equal(judgeRun(run(6000, { offeredPerSec: Number.NaN }), 200).held, false)
    assert.equal(judgeRun(run(6000, { latencyMs: { p50: 1, p99: Number.NaN } }), 200).held, false)
    assert.deepEqual(judgeRun(failedRun(6000, 30, new Error('relay exited 70')), 200), {
      held: false,
      why: 'the run failed: relay exited 70',
    })
  })

  test('what limited a run: the machine, the main thread, the load generator, or queueing', () => {
    const cpu = limitOf(run(7000, { cpuCores: 1.68, loadgenCores: 0.24 }), 2)
    assert.equal(
      cpu,
      'CPU: 1.92 of 2 cores busy: the relay 1.68 (WorkerThread 0.70, main 0.40, V8Worker 0.10), the load generator 0.24',
    )
    const main = limitOf(
      run(9000, { cpuCores: 1.5, cpuByThread: { main: 0.95, WorkerThread: 0.5 } }),
      16,
    )
    assert.equal(main, "the relay's main thread: 0.95 of a core")
    // On a busy machine the main thread near a core is named in the CPU verdict.
    assert.match(
      limitOf(run(7000, { cpuCores: 1.7, cpuByThread: { main: 0.93 }, loadgenCores: 0.2 }), 2),
      /^CPU: 1\.90 of 2 cores busy: the relay 1\.70 \(main 0\.93\), .*; the relay's main thread is near a whole core$/,
    )
    // A sender that fell behind on a busy machine is a symptom: the verdict is the CPU.
    assert.match(limitOf(run(7000, { offeredPerSec: 6500, cpuCores: 1.7 }), 2), /^CPU: /)
    assert.equal(
      limitOf(run(7000, { cpuCores: 1.75, cpuByThread: {}, loadgenCores: 0.2 }), 2),
      'CPU: 1.95 of 2 cores busy: the relay 1.75, the load generator 0.20',
    )
    assert.match(
      limitOf(run(6000, { cpuCores: 1.2 }), 2),
      /^queueing with cores to spare: 1\.40 of 2/,
    )
    assert.match(
      limitOf(run(8000, { offeredPerSec: 7000 }), 2),
      /^the load generator: it offered 7000\/s of 8000\/s with cores to spare \(the relay 1\.20 /,
    )
    assert.match(limitOf(run(8000, { cpuCores: undefined }), 2), /no CPU figures/)
    assert.match(
      limitOf(failedRun(8000, 30, new Error('boom')), 2),
      /^unknown: the run failed \(boom\)/,
    )
  })

  test('the edge is the highest rate every run of which held, below the first that did not', () => {
    const slow = { latencyMs: { p50: 400, p99: 2500 } }
    const s = sweepSummary([run(5000), run(6000), run(6500, slow)], 200, 2)
    assert.equal(s.edge, 6000)
    assert.equal(s.firstFailed?.rate, 6500)
    assert.equal(s.firstFailed?.why, 'p99 2500 ms over 200 ms')
    assert.match(s.firstFailed?.limit ?? '', /cores busy/)
    assert.deepEqual(
      s.runs.map((r) => [r.rate, r.held]),
      [
        [5000, true],
        [6000, true],
        [6500, false],
      ],
    )
    assert.equal(s.runs[2]?.why, 'p99 2500 ms over 200 ms')
    // 1.2 cores for 6,000 events a second: 200 µs of the relay's CPU per event.
    assert.equal(s.runs[1]?.relayUsPerEvent, 200)
    assert.equal(
      sweepSummary([run(5000, { cpuCores: undefined })], 200, 2).runs[0]?.relayUsPerEvent,
      undefined,
    )
    assert.equal(s.runs[0]?.why, undefined)

    // Repeats: one failed run of a rate takes the rate out, even after a run of it held.
    const repeated = sweepSummary([run(5000), run(5000), run(6000), run(6000, slow)], 200, 2)
    assert.equal(repeated.edge, 5000)
    assert.equal(repeated.firstFailed?.rate, 6000)
    // Every rate run (--every-rate): a rate that holds above the first failure is listed, not
    // taken as the edge.
    const every = sweepSummary([run(5000), run(6000, slow), run(7000)], 200, 2)
    assert.equal(every.edge, 5000)
    assert.equal(every.runs[2]?.held, true)
    // Nothing held; everything held.
    assert.equal(sweepSummary([run(5000, slow)], 200, 2).edge, null)
    // A run that threw ends the sweep like any failure, with its reason.
    const died = sweepSummary([run(5000), failedRun(6000, 30, new Error('exited 70'))], 200, 2)
    assert.equal(died.edge, 5000)
    assert.equal(died.firstFailed?.why, 'the run failed: exited 70')
    assert.equal(died.runs[1]?.relayUsPerEvent, undefined)
    const all = sweepSummary([run(5000), run(6000)], 200, 2)
    assert.equal(all.edge, 6000)
    assert.equal(all.firstFailed, null)
  })

  test("a run's result line read as the sweep needs it", () => {
    const line = {
      rate: 6000,
      seconds: 30,
      offeredPerSec: 5999.7,
      deliveredPerSec: 6001.2,
      complete: true,
      latencyMs: { samples: 10, missing: 0, p50: 8.1, p90: 20, p99: 103.2, max: 150 },
      cpuCores: 1.47,
      cpuByThread: { main: 0.41 },
      loadgenCores: 0.22,
      peakRssMB: 349.9,
    }
    assert.deepEqual(sweptResult(line), {
      rate: 6000,
      seconds: 30,
      offeredPerSec: 5999.7,
      deliveredPerSec: 6001.2,
      complete: true,
      latencyMs: { p50: 8.1, p99: 103.2 },
      cpuCores: 1.47,
      cpuByThread: { main: 0.41 },
      loadgenCores: 0.22,
      peakRssMB: 349.9,
    })
    // A line missing its figures never reads as a run that held.
    const empty = sweptResult({ rate: 6000 })
    assert.equal(judgeRun(empty, 200).held, false)
    assert.equal(empty.cpuCores, undefined)
    assert.equal(empty.loadgenCores, undefined)
  })
})
