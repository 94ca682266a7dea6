// `npm run loadgen -- --compare DIR --pairs N`: our relay against the relay of another checkout
// at one rate, their runs alternated in pairs (A B, then B A, so that a box whose speed drifts
// during the comparison weighs on both alike), and the difference in the relay's CPU per event
// with its 95% confidence interval. One run against one run says little on a shared machine
// whose speed moves by 5-10% within an hour; an interval that spans 0 shows no difference. An
// even number of pairs cancels a steady drift (A B adds it to B, B A takes it away).
// Only pairs in which both runs held the rate (sweep.ts's verdict) count towards it: the CPU per
// event of a relay that fell behind reads off either way (high while it is behind, low once it
// catches up, passing bigger groups between its threads).
// Pure: the runs' result lines come in, the summary goes out.
import { judgeRun, relayUsPerEvent, type SweptResult } from './sweep.ts'

export type Side = 'a' | 'b'

/** Which side goes first in pair `i` (0-based): A B, B A, A B, ... */
export function pairOrder(i: number): readonly [Side, Side] {
  return i % 2 === 0 ? ['a', 'b'] : ['b', 'a']
}

/** Two-sided 95% Student t quantiles for 1..30 degrees of freedom; 2.0 beyond (2.04 to 2.00
 * up to 60, a slightly narrow interval past that: no comparison runs that many pairs). */
const T95 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145,
  2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048,
  2.045, 2.042,
]

export interface Difference {
  /** Pairs it is taken over. */
  readonly pairs: number
  /** Mean of (b - a) / a per pair, in percent. */
  readonly meanPct: number
  /** Its 95% confidence interval (null with one pair: no spread to go by). */
  readonly lowPct: number | null
  readonly highPct: number | null
}

/** The mean relative difference of paired figures (b against a) and its 95% interval. */
export function pairedDifference(pairs: readonly (readonly [a: number, b: number])[]): Difference {
  const d = pairs.map(([a, b]) => ((b - a) / a) * 100)
  const n = d.length
  if (n === 0) throw new RangeError('no pairs to compare')
  const mean = d.reduce((s, x) => s + x, 0) / n
  if (n === 1) return { pairs: 1, meanPct: round(mean), lowPct: null, highPct: null }
  const variance = d.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)
  const half = (T95[n - 2] ?? 2) * Math.sqrt(variance / n)
  return { pairs: n, meanPct: round(mean), lowPct: round(mean - half), highPct: round(mean + half) }
}

const round = (x: number): number => Math.round(x * 10) / 10

export interface ComparedRun {
  readonly pair: number
  readonly side: Side
  readonly result: SweptResult
}

export interface CompareSummary {
  readonly rate: number
  readonly p99LimitMs: number
  readonly runs: readonly {
    readonly pair: number
    readonly side: Side
    readonly held: boolean
    readonly why?: string
    readonly relayUsPerEvent?: number
    readonly p99: number | null
  }[]
  /** Runs that held, of each side's. */
  readonly held: { readonly a: number; readonly b: number; readonly of: number }
  /** B's CPU per event against A's, over the pairs both of whose runs held; null if none did. */
  readonly relayUsPerEvent: Difference | null
}

/** The comparison's answer from its runs, in the order they ran (one run per side and pair). */
export function compareSummary(
  rate: number,
  runs: readonly ComparedRun[],
  p99LimitMs: number,
): CompareSummary {
  const judged = runs.map((r) => {
    const verdict = judgeRun(r.result, p99LimitMs)
    const us = relayUsPerEvent(r.result)
    return {
      pair: r.pair,
      side: r.side,
      held: verdict.held,
      ...(verdict.held ? {} : { why: verdict.why }),
      ...(us === undefined ? {} : { relayUsPerEvent: Math.round(us) }),
      p99: r.result.latencyMs.p99,
      us,
    }
  })
  const heldBy = (side: Side) => judged.filter((r) => r.side === side && r.held).length
  const pairNumbers = new Set(judged.map((r) => r.pair))
  const pairs: [number, number][] = []
  for (const pair of pairNumbers) {
    const a = judged.find((r) => r.pair === pair && r.side === 'a')
    const b = judged.find((r) => r.pair === pair && r.side === 'b')
    if (a?.held && b?.held && a.us !== undefined && b.us !== undefined) pairs.push([a.us, b.us])
  }
  return {
    rate,
    p99LimitMs,
    runs: judged.map(({ us: _, ...run }) => run),
    held: { a: heldBy('a'), b: heldBy('b'), of: pairNumbers.size },
    relayUsPerEvent: pairs.length === 0 ? null : pairedDifference(pairs),
  }
}
