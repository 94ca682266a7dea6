// The soak's samples and what is concluded from them: one printed line per sample, the CSV and a
// small SVG chart of memory over time, and the flatness verdict (least-squares slopes after
// warm-up: of the memory left after forced full collections when the soak probed for it, and of
// plain RSS and heap, reported beside it).
import type { GcProbe } from './gc-probe.ts'
export interface Sample {
  /** Seconds since the load started. */
  readonly t: number
  readonly rssMB: number
  /** The anonymous part of RSS (not mapped files). */
  readonly anonMB: number
  /** RSS by mapping kind (sample.ts `rssParts`): V8 pages, malloc's main heap, other anon, files. */
  readonly v8PagesMB: number
  readonly mallocHeapMB: number
  readonly otherAnonMB: number
  readonly filesMB: number
  readonly heapUsedMB: number
  readonly heapTotalMB: number
  readonly externalMB: number
  /** What the main thread's V8 holds through malloc for itself (`nodejs_v8_malloced_bytes`). */
  readonly v8MallocMB: number
  /** The verify workers' V8 heaps (their own isolates): committed and used. */
  readonly workerHeapTotalMB: number
  readonly workerHeapUsedMB: number
  /** What all consumers had waiting in send buffers (`relay_consumer_buffered_bytes`). */
  readonly consumerBufMB: number
  readonly fds: number
  readonly logMB: number
  readonly dbMB: number
  /** Commits the generator emitted per second since the last sample. */
  readonly offeredPerSec: number
  /** Events the relay accepted per second since the last sample. */
  readonly acceptedPerSec: number
  /** Events the first honest consumer received per second since the last sample. */
  readonly deliveredPerSec: number
  readonly consumers: number
  readonly dropped: number
}

const COLUMNS: readonly (keyof Sample)[] = [
  't',
  'rssMB',
  'anonMB',
  'v8PagesMB',
  'mallocHeapMB',
  'otherAnonMB',
  'filesMB',
  'heapUsedMB',
  'heapTotalMB',
  'externalMB',
  'v8MallocMB',
  'workerHeapTotalMB',
  'workerHeapUsedMB',
  'consumerBufMB',
  'fds',
  'logMB',
  'dbMB',
  'offeredPerSec',
  'acceptedPerSec',
  'deliveredPerSec',
  'consumers',
  'dropped',
]

export const HEADER =
  '     t   RSS MB  heap MB  ext MB   fds   log MB  offered/s  accepted/s  delivered/s  consumers'

export function sampleLine(s: Sample): string {
  const f = (v: number, w: number, d = 0) => v.toFixed(d).padStart(w)
  return (
    `${f(s.t, 6)} ${f(s.rssMB, 8, 1)} ${f(s.heapUsedMB, 8, 1)} ${f(s.externalMB, 7, 1)} ` +
    `${f(s.fds, 5)} ${f(s.logMB, 8, 1)} ${f(s.offeredPerSec, 10)} ${f(s.acceptedPerSec, 11)} ` +
    `${f(s.deliveredPerSec, 12)} ${f(s.consumers, 10)}`
  )
}

export function toCsv(samples: readonly Sample[]): string {
  const rows = samples.map((s) => COLUMNS.map((c) => Number(s[c].toFixed(3))).join(','))
  return `${COLUMNS.join(',')}\n${rows.join('\n')}\n`
}

/** Least-squares slope of y over x (per unit of x); 0 with fewer than two points. */
export function slope(points: readonly (readonly [number, number])[]): number {
  const n = points.length
  if (n < 2) return 0
  let sx = 0
  let sy = 0
  for (const [x, y] of points) {
    sx += x
    sy += y
  }
  const mx = sx / n
  const my = sy / n
  let num = 0
  let den = 0
  for (const [x, y] of points) {
    num += (x - mx) * (y - my)
    den += (x - mx) ** 2
  }
  return den === 0 ? 0 : num / den
}

/** The trend of the memory left after each forced full collection (gc-probe.ts). */
export interface LiveMemory {
  /** Probes after warm-up that the slopes are taken over. */
  readonly probes: number
  readonly rssAtWarmup: number
  readonly rssAtEnd: number
  /** MB per 10 minutes after warm-up. */
  readonly rssSlope: number
  readonly rssLimit: number
  readonly heapSlope: number
  readonly heapLimit: number
  readonly flat: boolean
}

export interface MemoryVerdict {
  readonly warmupEndS: number
  readonly rssAtWarmup: number
  readonly rssAtEnd: number
  /** The highest RSS sampled after warm-up: what an operator must provision for. */
  readonly rssPeak: number
  readonly heapAtWarmup: number
  readonly heapAtEnd: number
  /** MB per 10 minutes after warm-up. */
  readonly rssSlope: number
  readonly heapSlope: number
  readonly rssLimit: number
  readonly heapLimit: number
  /** Plain RSS and heap slopes both within their limits. */
  readonly plainFlat: boolean
  /**
   * Live memory, judged on the forced-collection probes when there are at least three after
   * warm-up; null when the soak did not probe (or too few probes came after warm-up).
   */
  readonly live: LiveMemory | null
  /**
   * The verdict: live memory flat when it was probed, otherwise plain RSS and heap flat. Plain
   * RSS includes garbage not yet collected, whose amount depends on when V8 chooses to collect,
   * so it is a weaker signal than the probes (it is reported either way).
   */
  readonly flat: boolean
  /**
   * Slopes of each minute's lowest and median RSS after warm-up (MB per 10 minutes): what memory
   * comes back to between bursts. A bounded burst (a stuck consumer's buffer, a replay) caught by
   * the last samples moves the plain slope of a short run; it does not move these.
   */
  readonly rssFloorSlope: number
  readonly rssMedianSlope: number
  /** The RSS slope split by mapping kind (MB per 10 minutes after warm-up), to say what grows. */
  readonly partSlopes: {
    readonly v8Pages: number
    readonly mallocHeap: number
    readonly otherAnon: number
    readonly files: number
  }
}

/** Memory per 10 minutes: the limit a slope must stay under, 3% of the start but a floor. */
const limitOf = (start: number, floor: number) => Math.max(floor, 0.03 * start)

interface Trends {
  readonly rssSlope: number
  readonly heapSlope: number
  readonly rssLimit: number
  readonly heapLimit: number
  readonly flat: boolean
}

/** The RSS and heap slopes of one series (samples or probes), per 10 minutes, and their limits. */
function trends<T extends { readonly t: number }>(
  series: readonly T[],
  rss: (x: T) => number,
  heap: (x: T) => number,
): Trends {
  const perTen = (f: (x: T) => number) => slope(series.map((x) => [x.t, f(x)])) * 600
  const first = series[0]
  const rssSlope = perTen(rss)
  const heapSlope = perTen(heap)
  const rssLimit = limitOf(first ? rss(first) : 0, 4)
  const heapLimit = limitOf(first ? heap(first) : 0, 2)
  return {
    rssSlope,
    heapSlope,
    rssLimit,
    heapLimit,
    flat: rssSlope <= rssLimit && heapSlope <= heapLimit,
  }
}

/**
 * Warm-up ends after 20% of the run but at least 2 minutes (at most half the run). Memory is
 * called flat when, after warm-up, the least-squares slopes stay under 3% of their warm-up values
 * per 10 minutes (and at least 4 MB for RSS, 2 MB for heap, the noise of garbage collection and
 * of a stuck consumer's buffer on short runs): the slopes of RSS and heap left after forced full
 * collections when there are at least three such probes after warm-up, else of plain RSS and heap.
 */
export function memoryVerdict(
  samples: readonly Sample[],
  runS: number,
  probes: readonly GcProbe[] = [],
): MemoryVerdict {
  const warmupEndS = Math.min(Math.max(0.2 * runS, 120), 0.5 * runS)
  const after = samples.filter((s) => s.t >= warmupEndS)
  const used = after.length >= 2 ? after : samples
  const first = used[0]
  const last = used.at(-1)
  const perTen = (k: keyof Sample) => slope(used.map((s) => [s.t, s[k]])) * 600
  const { flat: plainFlat, ...plain } = trends(
    used,
    (s) => s.rssMB,
    (s) => s.heapUsedMB,
  )
  const live = liveMemory(probes.filter((p) => p.t >= warmupEndS))
  return {
    warmupEndS,
    rssAtWarmup: first?.rssMB ?? 0,
    rssAtEnd: last?.rssMB ?? 0,
    rssPeak: Math.max(0, ...used.map((s) => s.rssMB)),
    heapAtWarmup: first?.heapUsedMB ?? 0,
    heapAtEnd: last?.heapUsedMB ?? 0,
    ...plain,
    plainFlat,
    live,
    flat: live ? live.flat : plainFlat,
    rssFloorSlope: perMinute(used, (v) => Math.min(...v)),
    rssMedianSlope: perMinute(used, (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!),
    partSlopes: {
      v8Pages: perTen('v8PagesMB'),
      mallocHeap: perTen('mallocHeapMB'),
      otherAnon: perTen('otherAnonMB'),
      files: perTen('filesMB'),
    },
  }
}

function liveMemory(probes: readonly GcProbe[]): LiveMemory | null {
  if (probes.length < 3) return null
  return {
    probes: probes.length,
    rssAtWarmup: probes[0]!.rssAfterMB,
    rssAtEnd: probes.at(-1)!.rssAfterMB,
    ...trends(
      probes,
      (p) => p.rssAfterMB,
      (p) => p.heapUsedAfterMB,
    ),
  }
}

const PROBE_COLUMNS: readonly (keyof GcProbe)[] = [
  't',
  'rssBeforeMB',
  'rssAfterMB',
  'heapUsedAfterMB',
  'externalAfterMB',
  'v8PagesAfterMB',
  'otherAnonAfterMB',
  'workerHeapAfterMB',
  'workersCollected',
]

export function probesCsv(probes: readonly GcProbe[]): string {
  const rows = probes.map((p) => PROBE_COLUMNS.map((c) => Number(p[c].toFixed(3))).join(','))
  return `${PROBE_COLUMNS.join(',')}\n${rows.join('\n')}\n`
}

export function probeLine(p: GcProbe): string {
  return (
    `${p.t.toFixed(0).padStart(6)} forced full GC: RSS ${p.rssBeforeMB.toFixed(1)} → ` +
    `${p.rssAfterMB.toFixed(1)} MB, heap used ${p.heapUsedAfterMB.toFixed(1)} MB, ` +
    `external ${p.externalAfterMB.toFixed(1)} MB; V8 pages ${p.v8PagesAfterMB.toFixed(1)} MB ` +
    `(workers' heaps ${p.workerHeapAfterMB.toFixed(1)}), allocator ${p.otherAnonAfterMB.toFixed(1)} MB`
  )
}

/** Slope (MB per 10 minutes) of one statistic of each minute's RSS samples. */
function perMinute(samples: readonly Sample[], stat: (values: number[]) => number): number {
  const minutes = new Map<number, number[]>()
  for (const s of samples) {
    const m = Math.floor(s.t / 60)
    const list = minutes.get(m) ?? []
    list.push(s.rssMB)
    minutes.set(m, list)
  }
  return slope([...minutes].map(([m, v]) => [m * 60 + 30, stat(v)] as const)) * 600
}

/** RSS and heap used over time, with the end of warm-up marked. */
export function toSvg(
  samples: readonly Sample[],
  warmupEndS: number,
  probes: readonly GcProbe[] = [],
): string {
  const W = 800
  const H = 320
  const L = 50
  const R = 20
  const T = 20
  const B = 40
  const maxT = Math.max(1, samples.at(-1)?.t ?? 1)
  const maxY = Math.max(1, ...samples.map((s) => s.rssMB)) * 1.1
  const x = (t: number) => L + (t / maxT) * (W - L - R)
  const y = (v: number) => H - B - (v / maxY) * (H - T - B)
  const line = (k: keyof Sample, color: string) =>
    `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${samples
      .map((s) => `${x(s.t).toFixed(1)},${y(s[k]).toFixed(1)}`)
      .join(' ')}"/>`
  const ticks: string[] = []
  for (let i = 0; i <= 4; i++) {
    const v = (maxY * i) / 4
    ticks.push(
      `<line x1="${L}" x2="${W - R}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`,
      `<text x="${L - 5}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(0)}</text>`,
    )
    const t = (maxT * i) / 4
    ticks.push(
      `<text x="${x(t)}" y="${H - B + 16}" text-anchor="middle">${(t / 60).toFixed(1)} min</text>`,
    )
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">
<rect width="${W}" height="${H}" fill="white"/>
${ticks.join('\n')}
<line x1="${x(warmupEndS)}" x2="${x(warmupEndS)}" y1="${T}" y2="${H - B}" stroke="#999" stroke-dasharray="4 3"/>
<text x="${x(warmupEndS) + 4}" y="${T + 10}">warm-up end</text>
${line('rssMB', '#1f77b4')}
${line('heapUsedMB', '#ff7f0e')}
${line('externalMB', '#2ca02c')}
${probes.map((p) => `<circle cx="${x(p.t).toFixed(1)}" cy="${y(p.rssAfterMB).toFixed(1)}" r="3" fill="#d62728"/>`).join('\n')}
<text x="${L + 10}" y="${H - 8}" fill="#1f77b4">RSS MB</text>
<text x="${L + 80}" y="${H - 8}" fill="#ff7f0e">heap used MB</text>
<text x="${L + 180}" y="${H - 8}" fill="#2ca02c">external MB</text>
<text x="${L + 270}" y="${H - 8}" fill="#d62728">● RSS after a forced full GC</text>
</svg>
`
}
