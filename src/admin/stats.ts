// Time series for the dashboard's charts: `StatsRecorder` samples the relay's running totals
// (events received, events written to the log, drops by reason, each thread's busy time, the
// main thread's CPU, which with the events received gives its CPU per event) and the
// consumer count every `stepMs`, keeps per-second rates in a ring buffer covering `windowMs`
// (1 h by default: 360 samples; the oldest is overwritten when full), and `statsRoutes` answers
// `GET /admin/stats` (docs/admin-api.md "Statistics") by averaging those samples into the asked
// step.
// Deliberately not here: where the totals come from (the composition root passes callbacks), and
// anything persisted (the series start empty at every start).
import { invalidRequest } from '../api/errors.ts'
import type { Route } from '../api/server.ts'

/** Running totals, read at each sample; counters must only grow (a drop resets the baseline). */
export interface StatsSources {
  eventsIn(): number
  eventsOut(): number
  consumers(): number
  drops(): ReadonlyMap<string, number>
  /**
   * Per kind of thread (main, upstream, verify, archive_writer): milliseconds its event loops
   * were busy, and how many threads of that kind there are (the share is per thread).
   */
  busy?(): ReadonlyMap<string, { readonly busyMs: number; readonly threads: number }>
  /** CPU milliseconds the main thread has used (user and system). */
  mainCpuMs?(): number
}

export interface StatsRecorderOptions {
  readonly sources: StatsSources
  /** Sampling period (default 10 s). */
  readonly stepMs?: number
  /** How much history is kept (default 1 h); the ring holds windowMs / stepMs samples. */
  readonly windowMs?: number
  readonly now?: () => number
}

interface Sample {
  readonly at: number
  readonly eventsIn: number
  readonly eventsOut: number
  readonly consumers: number
  readonly drops: ReadonlyMap<string, number>
  /** Percent of the time each kind of thread was busy, per thread. */
  readonly busy: ReadonlyMap<string, number>
  /** The main thread's CPU over the step and the events received in it (when it is read). */
  readonly mainCpu: { readonly ms: number; readonly events: number } | undefined
}

interface Totals {
  readonly at: number
  readonly eventsIn: number
  readonly eventsOut: number
  readonly drops: ReadonlyMap<string, number>
  readonly busy: ReadonlyMap<string, { readonly busyMs: number; readonly threads: number }>
  readonly mainCpuMs: number | undefined
}

export interface StatsSeries {
  /** Seconds per point. */
  readonly step: number
  readonly series: {
    readonly eventsIn: number[]
    readonly eventsOut: number[]
    readonly consumers: number[]
    readonly drops: Record<string, number[]>
    /** Percent of the time each kind of thread was busy (per thread), averaged over the step. */
    readonly busy: Record<string, number[]>
    /**
     * The main thread's CPU microseconds per event received over the step (0 when none came);
     * present when the main thread's CPU is read.
     */
    readonly mainUsPerEvent?: number[]
  }
}

export class StatsRecorder {
  readonly stepMs: number
  readonly windowMs: number
  readonly #sources: StatsSources
  readonly #now: () => number
  readonly #ring: (Sample | undefined)[]
  #next = 0
  #size = 0
  #last: Totals | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(opts: StatsRecorderOptions) {
    this.stepMs = opts.stepMs ?? 10_000
    this.windowMs = opts.windowMs ?? 3_600_000
    if (!(this.stepMs >= 1000) || this.windowMs < this.stepMs)
      throw new RangeError('stats: stepMs must be >= 1000 and windowMs >= stepMs')
    this.#sources = opts.sources
    this.#now = opts.now ?? Date.now
    this.#ring = new Array<Sample | undefined>(Math.floor(this.windowMs / this.stepMs))
  }

  /** Takes a baseline now and samples every stepMs until close(). */
  start(): void {
    if (this.#timer) return
    this.sample()
    this.#timer = setInterval(() => this.sample(), this.stepMs)
    this.#timer.unref()
  }

  close(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  [Symbol.dispose](): void {
    this.close()
  }

  /** Reads the totals; from the second call on, stores the rates since the previous call. */
  sample(): void {
    const s = this.#sources
    const cur: Totals = {
      at: this.#now(),
      eventsIn: s.eventsIn(),
      eventsOut: s.eventsOut(),
      drops: new Map(s.drops()),
      busy: new Map(s.busy?.() ?? []),
      mainCpuMs: s.mainCpuMs?.(),
    }
    const prev = this.#last
    this.#last = cur
    if (!prev || cur.at <= prev.at) return
    const secs = (cur.at - prev.at) / 1000
    const rate = (a: number, b: number): number => (a >= b ? (a - b) / secs : 0)
    const drops = new Map<string, number>()
    for (const [reason, n] of cur.drops) {
      const r = rate(n, prev.drops.get(reason) ?? 0)
      if (r > 0) drops.set(reason, r)
    }
    const busy = new Map<string, number>()
    for (const [thread, b] of cur.busy) {
      const before = prev.busy.get(thread)
      if (before === undefined || b.threads < 1) continue
      // rate() is per second of milliseconds: /10 makes it a percent of one thread's time.
      busy.set(thread, Math.min(100, rate(b.busyMs, before.busyMs) / 10 / b.threads))
    }
    const mainCpu =
      cur.mainCpuMs !== undefined && prev.mainCpuMs !== undefined
        ? {
            ms: Math.max(0, cur.mainCpuMs - prev.mainCpuMs),
            events: Math.max(0, cur.eventsIn - prev.eventsIn),
          }
        : undefined
    this.#push({
      at: cur.at,
      eventsIn: rate(cur.eventsIn, prev.eventsIn),
      eventsOut: rate(cur.eventsOut, prev.eventsOut),
      consumers: s.consumers(),
      drops,
      busy,
      mainCpu,
    })
  }

  /** The newest `windowMs` of samples averaged into points of `stepMs`, oldest first. */
  series(windowMs: number, stepMs: number): StatsSeries {
    const per = Math.max(1, Math.round(stepMs / this.stepMs))
    const want = Math.floor(windowMs / stepMs) * per
    const samples = this.#newest(Math.min(want, this.#size))
    const points = Math.ceil(samples.length / per)
    const eventsIn: number[] = []
    const eventsOut: number[] = []
    const consumers: number[] = []
    const reasons = new Set<string>()
    for (const s of samples) for (const r of s.drops.keys()) reasons.add(r)
    const drops: Record<string, number[]> = {}
    for (const r of [...reasons].sort()) drops[r] = []
    const threads = new Set<string>()
    for (const s of samples) for (const t of s.busy.keys()) threads.add(t)
    const busy: Record<string, number[]> = {}
    for (const t of threads) busy[t] = []
    const mainUsPerEvent: number[] | undefined = samples.some((x) => x.mainCpu) ? [] : undefined
    // Buckets are aligned on the newest sample: the oldest bucket may hold fewer samples.
    const first = samples.length - points * per
    for (let p = 0; p < points; p++) {
      const bucket = samples.slice(Math.max(0, first + p * per), first + (p + 1) * per)
      const avg = (f: (s: Sample) => number): number =>
        round(bucket.reduce((a, s) => a + f(s), 0) / bucket.length)
      eventsIn.push(avg((s) => s.eventsIn))
      eventsOut.push(avg((s) => s.eventsOut))
      consumers.push(bucket.at(-1)?.consumers ?? 0)
      for (const r of reasons) drops[r]?.push(avg((s) => s.drops.get(r) ?? 0))
      for (const t of threads) busy[t]?.push(avg((s) => s.busy.get(t) ?? 0))
      if (mainUsPerEvent) {
        // Weighted by events: the CPU of the whole step over every event in it.
        let ms = 0
        let events = 0
        for (const s of bucket) {
          ms += s.mainCpu?.ms ?? 0
          events += s.mainCpu?.events ?? 0
        }
        mainUsPerEvent.push(events > 0 ? round((ms * 1000) / events) : 0)
      }
    }
    const series = { eventsIn, eventsOut, consumers, drops, busy }
    return { step: stepMs / 1000, series: mainUsPerEvent ? { ...series, mainUsPerEvent } : series }
  }

  #push(s: Sample): void {
    this.#ring[this.#next] = s
    this.#next = (this.#next + 1) % this.#ring.length
    this.#size = Math.min(this.#size + 1, this.#ring.length)
  }

  #newest(n: number): Sample[] {
    const out: Sample[] = []
    const len = this.#ring.length
    for (let i = n; i >= 1; i--) {
      const s = this.#ring[(this.#next - i + len) % len]
      if (s) out.push(s)
    }
    return out
  }
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 }

/** `30s`, `5m`, `1h` → milliseconds; null when malformed. */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,6})(s|m|h)$/.exec(text)
  if (!m?.[1] || !m[2]) return null
  const unit = UNIT_MS[m[2]]
  return unit === undefined ? null : Number(m[1]) * unit
}

/**
 * `GET /admin/stats?window=1h&step=10s` (admin only), answered from the finest of `recorders`
 * (e.g. 10 s samples over 1 h, and 5 min samples over 24 h) that covers the window and whose
 * step divides the one asked for.
 */
export function statsRoutes(recorders: readonly StatsRecorder[]): Route[] {
  const byStep = [...recorders].sort((a, b) => a.stepMs - b.stepMs)
  const finest = byStep[0]
  const longest = Math.max(...byStep.map((r) => r.windowMs))
  if (!finest) throw new RangeError('stats: at least one recorder')
  return [
    {
      method: 'GET',
      path: '/admin/stats',
      admin: true,
      handle: (req) => {
        const windowText = req.query.get('window') ?? '1h'
        const stepText = req.query.get('step') ?? `${finest.stepMs / 1000}s`
        const windowMs = parseDuration(windowText)
        const stepMs = parseDuration(stepText)
        if (windowMs === null)
          throw invalidRequest(`window: expected a duration such as 1h, 30m or 600s`)
        if (stepMs === null) throw invalidRequest(`step: expected a duration such as 10s or 1m`)
        if (windowMs > longest || windowMs <= 0)
          throw invalidRequest(`window: at most ${longest / 1000}s of history is kept`)
        if (stepMs > windowMs) throw invalidRequest('step: must not be longer than window')
        const covering = byStep.filter((r) => r.windowMs >= windowMs)
        const recorder = covering.find((r) => stepMs >= r.stepMs && stepMs % r.stepMs === 0)
        if (!recorder) {
          const steps = covering.map((r) => `${r.stepMs / 1000}s`).join(' or ')
          throw invalidRequest(`step: for a ${windowText} window, must be a multiple of ${steps}`)
        }
        return { json: recorder.series(windowMs, stepMs) }
      },
    },
  ]
}
