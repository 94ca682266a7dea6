import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type ComparedRun, compareSummary, pairedDifference, pairOrder } from './compare.ts'
import { failedRun, type SweptResult } from './sweep.ts'

const run = (cpuCores: number, over: Partial<SweptResult> = {}): SweptResult => ({
  rate: 6000,
  seconds: 30,
  offeredPerSec: 6000,
  deliveredPerSec: 6000,
  complete: true,
  latencyMs: { p50: 8, p99: 120 },
  cpuCores,
  loadgenCores: 0.2,
  ...over,
})

describe('loadgen compare', () => {
  test('pairs alternate which side goes first, so a drifting box weighs on both alike', () => {
    assert.deepEqual([0, 1, 2, 3].map(pairOrder), [
      ['a', 'b'],
      ['b', 'a'],
      ['a', 'b'],
      ['b', 'a'],
    ])
  })

  test("the paired difference's mean and Student t 95% interval", () => {
    // d = -5, -4, -6 %: mean -5, s = 1, s/√3 = 0.577, t(2) = 4.303: ±2.48.
    assert.deepEqual(
      pairedDifference([
        [200, 190],
        [200, 192],
        [200, 188],
      ]),
      { pairs: 3, meanPct: -5, lowPct: -7.5, highPct: -2.5 },
    )
    // Opposite pairs: no difference, and an interval wide enough to say so.
    assert.deepEqual(
      pairedDifference([
        [100, 110],
        [100, 90],
      ]),
      { pairs: 2, meanPct: 0, lowPct: -127.1, highPct: 127.1 },
    )
    // One pair has no spread to go by.
    assert.deepEqual(pairedDifference([[240, 252]]), {
      pairs: 1,
      meanPct: 5,
      lowPct: null,
      highPct: null,
    })
    assert.throws(() => pairedDifference([]), RangeError)
  })

  test('only pairs whose runs both held count; held runs counted per side', () => {
    const runs: ComparedRun[] = [
      { pair: 0, side: 'a', result: run(1.44) }, // 240 µs an event
      { pair: 0, side: 'b', result: run(1.38) }, // 230
      // B fell behind (p99 over the limit): the pair says nothing of CPU per event.
      { pair: 1, side: 'b', result: run(1.2, { latencyMs: { p50: 900, p99: 2400 } }) },
      { pair: 1, side: 'a', result: run(1.5) },
      { pair: 2, side: 'a', result: run(1.47) }, // 245
      { pair: 2, side: 'b', result: run(1.41) }, // 235
    ]
    const s = compareSummary(6000, runs, 200)
    assert.deepEqual(s.held, { a: 3, b: 2, of: 3 })
    assert.equal(s.runs[2]?.held, false)
    assert.match(s.runs[2]?.why ?? '', /p99 2400 ms over 200 ms/)
    assert.equal(s.runs[0]?.relayUsPerEvent, 240)
    // (230 - 240) / 240 = -4.17%, (235 - 245) / 245 = -4.08%.
    assert.equal(s.relayUsPerEvent?.pairs, 2)
    assert.equal(s.relayUsPerEvent?.meanPct, -4.1)
  })

  test('no pair whose runs both held: no difference is claimed', () => {
    const s = compareSummary(
      6000,
      [
        { pair: 0, side: 'a', result: run(1.44) },
        { pair: 0, side: 'b', result: failedRun(6000, 30, new Error('relay exited 70')) },
      ],
      200,
    )
    assert.equal(s.relayUsPerEvent, null)
    assert.deepEqual(s.held, { a: 1, b: 0, of: 1 })
    assert.match(s.runs[1]?.why ?? '', /relay exited 70/)
    // A CPU figure that makes no sense (none read, or zero) never reaches the mean as a NaN.
    const odd = compareSummary(
      6000,
      [
        { pair: 0, side: 'a', result: run(Number.NaN) },
        { pair: 0, side: 'b', result: run(1.38) },
        { pair: 1, side: 'b', result: run(1.4) },
        { pair: 1, side: 'a', result: run(0) },
      ],
      200,
    )
    assert.equal(odd.runs[0]?.relayUsPerEvent, undefined)
    assert.equal(odd.relayUsPerEvent, null)
  })
})
