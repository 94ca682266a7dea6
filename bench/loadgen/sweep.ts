// `npm run loadgen -- --sweep FROM:TO:STEP`: the same run at rising rates, to find the highest
// rate a relay carries in full with its tail in bounds (issue 12: "the maximum before latency
// runs away") and to say what stopped it at the next. A rate holds when every one of its runs
// held: every event reached every consumer once and in order, the p99 latency was within the
// limit, and the load generator offered the rate it was asked for (a starved sender would make a
// relay look better than it is). Pure: the runs' result lines come in, the verdicts go out;
// nothing here starts or measures anything.

/** A sweep of more rates than this is a typo (each rate is a run of a minute or more). */
export const MAX_SWEEP_RATES = 40

/** The rates of a sweep, ascending: `FROM:TO:STEP` (TO included) or a comma-separated list. */
export function sweepRates(spec: string): number[] {
  const range = /^(\d+):(\d+):(\d+)$/.exec(spec)
  if (range) {
    const [from, to, step] = [Number(range[1]), Number(range[2]), Number(range[3])]
    if (from <= 0 || step <= 0 || to < from) throw new SweepSpecError(spec)
    // Counted before any is made: a typo such as 1:1000000000:1 is refused, not enumerated.
    const count = Math.floor((to - from) / step) + 1
    if (count > MAX_SWEEP_RATES) throw new SweepSpecError(spec)
    return Array.from({ length: count }, (_, i) => from + i * step)
  }
  if (!/^\d+(,\d+)*$/.test(spec)) throw new SweepSpecError(spec)
  const rates = [...new Set(spec.split(',').map(Number))].sort((a, b) => a - b)
  if (rates[0] === 0 || rates.length > MAX_SWEEP_RATES) throw new SweepSpecError(spec)
  return rates
}

export class SweepSpecError extends Error {
  override readonly name = 'SweepSpecError'
  readonly spec: string
  constructor(spec: string) {
    super(
      `--sweep: expected FROM:TO:STEP or a list of rates (positive whole numbers, ` +
        `at most ${MAX_SWEEP_RATES} of them), got ${spec}`,
    )
    this.spec = spec
  }
}

/** What a sweep reads of one run's result line (bench/loadgen/result.ts). */
export interface SweptResult {
  readonly rate: number
  /** The measured window, in seconds. */
  readonly seconds: number
  readonly offeredPerSec: number
  readonly deliveredPerSec: number
  readonly complete: boolean
  readonly latencyMs: { readonly p50: number | null; readonly p99: number | null }
  readonly cpuCores?: number | undefined
  readonly cpuByThread?: Readonly<Record<string, number>> | undefined
  readonly loadgenCores?: number | undefined
  readonly peakRssMB?: number | undefined
  /** The run did not finish (the relay died, say): why. */
  readonly error?: string | undefined
}

/**
 * How far the sender may fall short of the rate before the run says so: 2%, or three events
 * over the window when that is more (at a few dozen events a second, one event late at the
 * window's edge is already 1-2%).
 */
function offeredInFull(r: SweptResult): boolean {
  const shortfall = Math.max(0.02 * r.rate, 3 / r.seconds)
  // Written so that a missing figure (NaN) reads as short, never as offered.
  return r.offeredPerSec >= r.rate - shortfall
}

export type RunVerdict = { readonly held: true } | { readonly held: false; readonly why: string }

/** Whether one run held the rate, and why not. */
export function judgeRun(r: SweptResult, p99LimitMs: number): RunVerdict {
  if (r.error !== undefined) return { held: false, why: `the run failed: ${r.error}` }
  if (!offeredInFull(r)) {
    return { held: false, why: `the load generator offered only ${r.offeredPerSec}/s` }
  }
  if (!r.complete) return { held: false, why: 'not every event reached every consumer once' }
  const p99 = r.latencyMs.p99
  if (p99 === null) return { held: false, why: 'commits of the window never arrived' }
  if (!(p99 <= p99LimitMs)) return { held: false, why: `p99 ${p99} ms over ${p99LimitMs} ms` }
  return { held: true }
}

/**
 * What most likely stopped a run that did not hold, from its CPU figures. First the machine: the
 * relay and the load generator together keeping at least 90% of the cores busy (a load
 * generator that then falls behind is a symptom of that, and a main thread near a whole core is
 * named in it). Then, with cores to spare, the relay's main thread (its serial part) near a whole
 * core, or the load generator unable to offer the rate, or else queueing.
 */
export function limitOf(r: SweptResult, cores: number): string {
  const relay = r.cpuCores
  if (r.error !== undefined) return `unknown: the run failed (${r.error})`
  if (relay === undefined || r.loadgenCores === undefined) {
    return 'unknown: no CPU figures for the relay (give --relay-pid)'
  }
  const main = r.cpuByThread?.main
  const mainNearCore = main !== undefined && main >= 0.9
  const busy = relay + r.loadgenCores
  const parts = Object.entries(r.cpuByThread ?? {})
    .filter(([, c]) => c >= 0.005)
    .sort((a, b) => b[1] - a[1])
    .map(([name, c]) => `${name} ${fixed(c)}`)
    .join(', ')
  const where =
    `the relay ${fixed(relay)}${parts === '' ? '' : ` (${parts})`}, ` +
    `the load generator ${fixed(r.loadgenCores)}`
  if (busy >= 0.9 * cores) {
    const serial = mainNearCore ? `; the relay's main thread is near a whole core` : ''
    return `CPU: ${fixed(busy)} of ${cores} cores busy: ${where}${serial}`
  }
  if (mainNearCore) return `the relay's main thread: ${fixed(main)} of a core`
  if (!offeredInFull(r)) {
    const offered = `it offered ${r.offeredPerSec}/s of ${r.rate}/s`
    return `the load generator: ${offered} with cores to spare (${where})`
  }
  return `queueing with cores to spare: ${fixed(busy)} of ${cores} cores busy: ${where}`
}

const fixed = (n: number): string => n.toFixed(2)

export interface SweptRun {
  readonly rate: number
  readonly held: boolean
  readonly why?: string
  readonly deliveredPerSec: number
  readonly p50: number | null
  readonly p99: number | null
  readonly relayCores?: number | undefined
  /** The relay's CPU per event delivered to the slowest consumer, in µs: what sets the edge on
   * a machine whose cores are all busy, and what compares across machines. A run that fell
   * behind delivered fewer than it worked on, so its figure reads high. */
  readonly relayUsPerEvent?: number | undefined
  readonly loadgenCores?: number | undefined
  readonly peakRssMB?: number | undefined
}

export interface SweepSummary {
  readonly p99LimitMs: number
  readonly cores: number
  readonly runs: readonly SweptRun[]
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
  const runs: SweptRun[] = []
  let firstFailed: SweepSummary['firstFailed'] = null
  for (const r of results) {
    const verdict = judgeRun(r, p99LimitMs)
    if (!verdict.held && firstFailed === null) {
      firstFailed = { rate: r.rate, why: verdict.why, limit: limitOf(r, cores) }
    }
    runs.push({
      rate: r.rate,
      held: verdict.held,
      ...(verdict.held ? {} : { why: verdict.why }),
      deliveredPerSec: r.deliveredPerSec,
      p50: r.latencyMs.p50,
      p99: r.latencyMs.p99,
      relayCores: r.cpuCores,
      relayUsPerEvent: rounded(relayUsPerEvent(r)),
      loadgenCores: r.loadgenCores,
      peakRssMB: r.peakRssMB,
    })
  }
  // Rates ascend, so every run before the first failure held; a rate holds only when all its
  // runs did, so the failed rate's earlier runs do not count, nor does anything after it.
  const failedAt = firstFailed?.rate ?? Number.POSITIVE_INFINITY
  let edge: number | null = null
  for (const r of runs) if (r.rate < failedAt && (edge === null || r.rate > edge)) edge = r.rate
  return { p99LimitMs, cores, runs, edge, firstFailed }
}

/**
 * The relay's CPU per event delivered to the slowest consumer, in µs, unrounded; undefined
 * without CPU figures or deliveries (or with figures that make no sense: never a NaN).
 */
export function relayUsPerEvent(r: SweptResult): number | undefined {
  if (r.cpuCores === undefined || !(r.deliveredPerSec > 0)) return undefined
  const us = (r.cpuCores / r.deliveredPerSec) * 1e6
  return Number.isFinite(us) && us > 0 ? us : undefined
}

const rounded = (n: number | undefined): number | undefined =>
  n === undefined ? undefined : Math.round(n)

/** The fields a sweep reads, from a run's result line (`resultLine`). */
export function sweptResult(line: Readonly<Record<string, unknown>>): SweptResult {
  const num = (v: unknown): number => (typeof v === 'number' ? v : Number.NaN)
  const orNull = (v: unknown): number | null => (typeof v === 'number' ? v : null)
  const orUndefined = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined)
  const latency = (line.latencyMs ?? {}) as Record<string, unknown>
  return {
    rate: num(line.rate),
    seconds: num(line.seconds),
    offeredPerSec: num(line.offeredPerSec),
    deliveredPerSec: num(line.deliveredPerSec),
    complete: line.complete === true,
    latencyMs: { p50: orNull(latency.p50), p99: orNull(latency.p99) },
    cpuCores: orUndefined(line.cpuCores),
    cpuByThread: line.cpuByThread as Record<string, number> | undefined,
    loadgenCores: orUndefined(line.loadgenCores),
    peakRssMB: orUndefined(line.peakRssMB),
  }
}

/** A run that threw instead of answering, as the sweep records it. */
export function failedRun(rate: number, seconds: number, err: unknown): SweptResult {
  return {
    rate,
    seconds,
    offeredPerSec: Number.NaN,
    deliveredPerSec: Number.NaN,
    complete: false,
    latencyMs: { p50: null, p99: null },
    error: err instanceof Error ? err.message : String(err),
  }
}
