// `npm run loadgen -- --sweep FROM:TO:STEP`: the same run at rising rates, to find the highest
// rate a relay carries in full with its tail in bounds (issue 12: "the maximum before latency
// runs away") and to say what stopped it at the next. A rate holds when every one of its runs
// held: every event reached every consumer once and in order, the p99 latency was within the
// limit, and the load generator offered the rate it was asked for (a starved sender would make a
// relay look better than it is). Pure: the runs' result lines come in, the verdicts go out;
// nothing here starts or measures anything.

/** The rates of a sweep, ascending: `FROM:TO:STEP` (TO included) or a comma-separated list. */
export function sweepRates(spec: string): number[] {
  const range = /^(\d+):(\d+):(\d+)$/.exec(spec)
  if (range) {
    const [from, to, step] = [Number(range[1]), Number(range[2]), Number(range[3])]
    if (from <= 0 || step <= 0 || to < from) throw new SweepSpecError(spec)
    const rates: number[] = []
    for (let r = from; r <= to; r += step) rates.push(r)
    if (rates.length > MAX_SWEEP_RATES) throw new SweepSpecError(spec)
    return rates
  }
  if (!/^\d+(,\d+)*$/.test(spec)) throw new SweepSpecError(spec)
  const rates = [...new Set(spec.split(',').map(Number))].sort((a, b) => a - b)
  if (rates[0] === 0 || rates.length > MAX_SWEEP_RATES) throw new SweepSpecError(spec)
  return rates
}

/** A sweep of more rates than this is a typo (each rate is a run of a minute or more). */
export const MAX_SWEEP_RATES = 40

export class SweepSpecError extends Error {
  override readonly name = 'SweepSpecError'
  readonly spec: string
  constructor(spec: string) {
    super(
      `--sweep: expected FROM:TO:STEP or a list of rates (positive whole numbers, at most ${MAX_SWEEP_RATES}), got ${spec}`,
    )
    this.spec = spec
  }
}

/** What a sweep reads of one run's result line (bench/loadgen/result.ts). */
export interface SweptResult {
  readonly rate: number
  readonly offeredPerSec: number
  readonly deliveredPerSec: number
  readonly complete: boolean
  readonly latencyMs: { readonly p50: number | null; readonly p99: number | null }
  readonly cpuCores?: number | undefined
  readonly cpuByThread?: Readonly<Record<string, number>> | undefined
  readonly loadgenCores: number
  readonly peakRssMB?: number | undefined
}

/** The sender may lag its schedule by this share of the rate before the run says so. */
const OFFER_SHORTFALL = 0.02

export type RunVerdict = { readonly held: true } | { readonly held: false; readonly why: string }

/** Whether one run held the rate, and why not. */
export function judgeRun(r: SweptResult, p99LimitMs: number): RunVerdict {
  if (r.offeredPerSec < r.rate * (1 - OFFER_SHORTFALL)) {
    return { held: false, why: `the load generator offered only ${r.offeredPerSec}/s` }
  }
  if (!r.complete) return { held: false, why: 'not every event reached every consumer once' }
  const p99 = r.latencyMs.p99
  if (p99 === null) return { held: false, why: 'commits of the window never arrived' }
  if (p99 > p99LimitMs) return { held: false, why: `p99 ${p99} ms over ${p99LimitMs} ms` }
  return { held: true }
}

/**
 * What most likely stopped a run that did not hold, from its CPU figures: the load generator
 * itself; every core of the machine busy (relay and load generator together, at least 90%); the
 * relay's main thread (its serial part) near a whole core; or neither, when the tail came from
 * queueing with cores to spare.
 */
export function limitOf(r: SweptResult, cores: number): string {
  if (r.offeredPerSec < r.rate * (1 - OFFER_SHORTFALL)) {
    return `the load generator: it offered ${r.offeredPerSec}/s of ${r.rate}/s`
  }
  const relay = r.cpuCores
  const main = r.cpuByThread?.main
  if (relay === undefined) return 'unknown: no CPU figures for the relay (give --relay-pid)'
  const busy = relay + r.loadgenCores
  const parts = Object.entries(r.cpuByThread ?? {})
    .filter(([, c]) => c >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([name, c]) => `${name} ${fixed(c)}`)
    .join(', ')
  const where = `the relay ${fixed(relay)} (${parts}), the load generator ${fixed(r.loadgenCores)}`
  if (busy >= 0.9 * cores) return `CPU: ${fixed(busy)} of ${cores} cores busy: ${where}`
  if (main !== undefined && main >= 0.9) return `the relay's main thread: ${fixed(main)} of a core`
  return `queueing with cores to spare: ${fixed(busy)} of ${cores} cores busy: ${where}`
}

const fixed = (n: number): string => n.toFixed(2)

export interface SweepSummary {
  readonly p99LimitMs: number
  readonly cores: number
  readonly runs: readonly {
    readonly rate: number
    readonly held: boolean
    readonly why?: string
    readonly deliveredPerSec: number
    readonly p50: number | null
    readonly p99: number | null
    readonly relayCores?: number | undefined
    /** The relay's CPU per event delivered, in µs: what sets the edge on a machine whose cores
     * are all busy, and what compares across machines. */
    readonly relayUsPerEvent?: number | undefined
    readonly loadgenCores: number
    readonly peakRssMB?: number | undefined
  }[]
  /** The highest rate every run of which held, below the first that did not; null if none. */
  readonly edge: number | null
  /** The first rate at which a run did not hold, and what stopped it; null if all held. */
  readonly firstFailed: {
    readonly rate: number
    readonly why: string
    readonly limit: string
  } | null
}

/** The sweep's answer from its runs in the order they ran (rates ascending, repeats adjacent). */
export function sweepSummary(
  results: readonly SweptResult[],
  p99LimitMs: number,
  cores: number,
): SweepSummary {
  let edge: number | null = null
  let firstFailed: SweepSummary['firstFailed'] = null
  const runs = results.map((r) => {
    const verdict = judgeRun(r, p99LimitMs)
    if (verdict.held && firstFailed === null) edge = r.rate
    if (!verdict.held && firstFailed === null) {
      firstFailed = { rate: r.rate, why: verdict.why, limit: limitOf(r, cores) }
      // A rate holds only when every run of it held: an earlier run of this rate does not count.
      if (edge === r.rate) edge = highestBelow(results, r.rate)
    }
    return {
      rate: r.rate,
      held: verdict.held,
      ...(verdict.held ? {} : { why: verdict.why }),
      deliveredPerSec: r.deliveredPerSec,
      p50: r.latencyMs.p50,
      p99: r.latencyMs.p99,
      relayCores: r.cpuCores,
      relayUsPerEvent:
        r.cpuCores !== undefined && r.deliveredPerSec > 0
          ? Math.round((r.cpuCores / r.deliveredPerSec) * 1e6)
          : undefined,
      loadgenCores: r.loadgenCores,
      peakRssMB: r.peakRssMB,
    }
  })
  return { p99LimitMs, cores, runs, edge, firstFailed }
}

function highestBelow(results: readonly SweptResult[], rate: number): number | null {
  let best: number | null = null
  for (const r of results) if (r.rate < rate && (best === null || r.rate > best)) best = r.rate
  return best
}

/** The fields a sweep reads, from a run's result line (`resultLine`). */
export function sweptResult(line: Readonly<Record<string, unknown>>): SweptResult {
  const num = (v: unknown): number => (typeof v === 'number' ? v : Number.NaN)
  const orNull = (v: unknown): number | null => (typeof v === 'number' ? v : null)
  const latency = (line.latencyMs ?? {}) as Record<string, unknown>
  return {
    rate: num(line.rate),
    offeredPerSec: num(line.offeredPerSec),
    deliveredPerSec: num(line.deliveredPerSec),
    complete: line.complete === true,
    latencyMs: { p50: orNull(latency.p50), p99: orNull(latency.p99) },
    cpuCores: typeof line.cpuCores === 'number' ? line.cpuCores : undefined,
    cpuByThread: line.cpuByThread as Record<string, number> | undefined,
    loadgenCores: typeof line.loadgenCores === 'number' ? line.loadgenCores : 0,
    peakRssMB: typeof line.peakRssMB === 'number' ? line.peakRssMB : undefined,
  }
}
