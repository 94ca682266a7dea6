// The load generator's result line: what one run measured, summed over its consumers. How to
// read each field: BENCHMARKS.md, "Load generator".
import { byLabel, type Scrape, value } from '../soak/sample.ts'
import type { ConsumerReport } from './consumers-worker.ts'
import { round } from './proc.ts'

export interface RunFigures {
  readonly relay: string
  readonly params: {
    readonly hosts: number
    readonly accounts: number
    readonly consumers: number
    readonly rate: number
    readonly seconds: number
    readonly warmupSeconds: number
    /** Only one shard's accounts were sent (`--only-shard`), as "I/N". */
    readonly onlyShard?: string | undefined
  }
  readonly commitBytes: number
  readonly sent: number
  readonly commitsSent: number
  readonly sentInWindow: number
  readonly commitsInWindow: number
  readonly senderMaxBehind: number
  readonly windowS: number
  readonly reports: readonly ConsumerReport[]
  /** Latencies (ms) of the window's commits that arrived, every consumer together. */
  readonly latencies: Float64Array
  readonly cores: { total: number; byThread: Record<string, number> } | null
  readonly loadgenCores: number
  readonly peakRss: number
  readonly hwm: number
  readonly before: Scrape | null
  readonly after: Scrape | null
  /** Filling the mirror before the run (`--serve-repos`): repos resynced, how long. */
  readonly mirrorSeed?: { repos: number; seconds: number; failed: number } | undefined
  /** The slow-consumer burst's figures (`--slow-consumers`), when there was one. */
  readonly slowConsumers?: Record<string, unknown>
}

/**
 * Percentile over the arrived latencies plus `missing` ones counted as never arriving (+∞, shown
 * as null): a relay that loses events cannot look fast.
 */
function percentile(sorted: Float64Array, missing: number, p: number): number | null {
  const n = sorted.length + missing
  if (n === 0) return null
  const k = Math.min(n - 1, Math.floor((p / 100) * n))
  return k < sorted.length ? round(sorted[k]!, 1) : null
}

export function resultLine(r: RunFigures): Record<string, unknown> {
  const { reports } = r
  const sorted = r.latencies.sort()
  const missing = Math.max(0, r.commitsInWindow * reports.length - sorted.length)
  const min = (f: (c: ConsumerReport) => number) => Math.min(...reports.map(f))
  const sum = (f: (c: ConsumerReport) => number) => reports.reduce((n, c) => n + f(c), 0)
  const mb = (b: number) => (b > 0 ? round(b / 2 ** 20, 1) : undefined)
  const accepted =
    r.after && r.before
      ? value(r.after, 'relay_events_accepted_total') -
        value(r.before, 'relay_events_accepted_total')
      : undefined
  return {
    date: new Date().toISOString(),
    relay: r.relay,
    ...r.params,
    commitBytes: r.commitBytes,
    eventsSent: r.sent,
    eventsAccepted: accepted,
    offeredPerSec: round(r.sentInWindow / r.windowS, 1),
    senderMaxBehind: r.senderMaxBehind,
    // Frames (every type) the slowest consumer received during the window, per second.
    deliveredPerSec: round(min((c) => c.arrivedInWindow) / r.windowS, 1),
    received: { min: min((c) => c.received), max: Math.max(...reports.map((c) => c.received)) },
    // Every consumer got every event sent, each commit once, in order. Frames beyond the
    // workload are the relay's own (a repair's #sync and #account events in archival mode).
    complete: reports.every(
      (c) =>
        c.received >= r.sent &&
        c.commitsSeen === r.commitsSent &&
        c.gaps === 0 &&
        c.duplicates === 0,
    ),
    relayEvents: Math.max(0, ...reports.map((c) => c.received - r.sent)),
    gaps: sum((c) => c.gaps),
    duplicates: sum((c) => c.duplicates),
    unreadable: sum((c) => c.unreadable),
    errorFrames: sum((c) => c.errorFrames),
    consumersClosed: reports.filter((c) => c.closed).length,
    latencyMs: {
      samples: sorted.length,
      missing,
      p50: percentile(sorted, missing, 50),
      p90: percentile(sorted, missing, 90),
      p99: percentile(sorted, missing, 99),
      p999: percentile(sorted, missing, 99.9),
      max: missing > 0 ? null : round(sorted.at(-1) ?? Number.NaN, 1),
    },
    cpuCores: r.cores?.total,
    cpuByThread: r.cores?.byThread,
    loadgenCores: r.loadgenCores,
    peakRssMB: mb(r.peakRss),
    hwmRssMB: mb(r.hwm),
    // Main-thread CPU per event offered in the window (the relay's serial part: issue 12's
    // target is 30 µs or less).
    mainUsPerEvent:
      r.cores?.byThread.main !== undefined && r.sentInWindow > 0
        ? round((r.cores.byThread.main / (r.sentInWindow / r.windowS)) * 1e6, 1)
        : undefined,
    // Records per event-log write over the run: how well the log batches its writes.
    logRecordsPerWrite: r.after && r.before ? perCall(r.before, r.after) : undefined,
    drops: r.after ? byLabel(r.after, 'relay_events_dropped_total', 'reason') : undefined,
    // With account shards: verifications a shard lent to a less busy one, over the whole run.
    shardLoans: r.after?.has('relay_account_shard_verifications_lent_total')
      ? value(r.after, 'relay_account_shard_verifications_lent_total')
      : undefined,
    // With account shards: the upstream events each shard was handed over the whole run.
    shardEvents: r.after
      ? byLabel(r.after, 'relay_account_shard_events_total', 'shard')
      : undefined,
    slowConsumers: r.slowConsumers,
    mirrorSeed: r.mirrorSeed,
    mirror: r.after ? mirrorFigures(r.after) : undefined,
  }
}

/**
 * Archival mode's work over the whole run (absent for a relay without a mirror): commits given
 * to the mirror by result, repos imported (by repairs), and repairs by result.
 */
function mirrorFigures(after: Scrape): Record<string, unknown> | undefined {
  const commits = byLabel(after, 'relay_mirror_commits_total', 'result')
  if (Object.keys(commits).length === 0) return undefined
  return {
    commits,
    withoutDiff: value(after, 'relay_mirror_commits_without_diff_total'),
    reposImported: value(after, 'relay_mirror_repos_imported_total'),
    repairs: byLabel(after, 'relay_repairs_total', 'result'),
  }
}

function perCall(before: Scrape, after: Scrape): number | undefined {
  const delta = (name: string) => value(after, name) - value(before, name)
  const calls = delta('relay_eventlog_write_calls_total')
  return calls > 0 ? round(delta('relay_eventlog_records_written_total') / calls, 1) : undefined
}
