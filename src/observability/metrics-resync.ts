// Metrics read at scrape time from what keeps repos right: the repair queue of desynchronized
// accounts and one-account syncs by result (both modes), host resyncs running, and in archival
// mode the mirror (commits applied, unchanged replays, commits it could not follow, repos
// imported and deleted) and whether a compaction runs. Counts only: no DIDs, no hostnames.
// Deliberately not here: resync progress per host (the admin API and the dashboard show it).
import type { Registry } from 'prom-client'
import type { MetricsSources } from './metrics-sources.ts'
import { scrapeCounter, scrapeGauge } from './scrape-metric.ts'

export function registerResyncMetrics(registry: Registry, s: MetricsSources): void {
  const r = s.resync
  scrapeGauge(registry, {
    name: 'relay_repairs_queued',
    help: 'Desynchronized accounts waiting for their repair (or its next attempt).',
    read: (emit) => emit(r.repairs.stats.queued),
  })
  scrapeGauge(registry, {
    name: 'relay_repairs_running',
    help: 'Repairs of desynchronized accounts running now.',
    read: (emit) => emit(r.repairs.stats.running),
  })
  scrapeCounter(registry, {
    name: 'relay_repairs_total',
    help: 'Repairs ended, by result (a failed one is tried again later).',
    labelNames: ['result'],
    read: (emit) => {
      emit(r.repairs.stats.repaired, { result: 'repaired' })
      emit(r.repairs.stats.failed, { result: 'failed' })
    },
  })
  scrapeCounter(registry, {
    name: 'relay_repairs_overflow_total',
    help: 'Repairs not queued because the queue was full (the periodic sweep queues them later).',
    read: (emit) => emit(r.repairs.stats.overflow),
  })
  scrapeCounter(registry, {
    name: 'relay_account_syncs_total',
    help: 'One-account syncs (repairs, host resyncs, operators), by result.',
    labelNames: ['result'],
    read: (emit) => {
      for (const [result, n] of Object.entries(r.syncCounts)) emit(n, { result })
    },
  })
  scrapeGauge(registry, {
    name: 'relay_host_resyncs_running',
    help: 'Whole-host resyncs running now.',
    read: (emit) => emit(r.hostResyncs.running),
  })
  const stats = r.mirrorStats
  if (!stats) return
  scrapeCounter(registry, {
    name: 'relay_mirror_commits_total',
    help: 'Commits given to the mirror, by result (missing: it could not follow; repaired).',
    labelNames: ['result'],
    read: (emit) => {
      const m = stats()
      emit(m.commitsApplied, { result: 'applied' })
      emit(m.commitsUnchanged, { result: 'unchanged' })
      emit(m.commitsMissing, { result: 'missing' })
    },
  })
  scrapeCounter(registry, {
    name: 'relay_mirror_commits_without_diff_total',
    help: 'Of the commits applied, those written with the change their verification worked out (no tree diff).',
    read: (emit) => emit(stats().commitsWithoutDiff),
  })
  scrapeCounter(registry, {
    name: 'relay_mirror_repos_imported_total',
    help: 'Whole repos written into the mirror by a resync or repair.',
    read: (emit) => emit(stats().reposImported),
  })
  scrapeCounter(registry, {
    name: 'relay_mirror_repos_deleted_total',
    help: 'Repos deleted from the mirror (takedowns, deleted accounts).',
    read: (emit) => emit(stats().reposDeleted),
  })
  const writer = r.archive?.writerStats
  if (writer !== undefined) {
    scrapeGauge(registry, {
      name: 'relay_archive_writer_in_flight',
      help: "Writes handed to the archive's writer thread and not yet answered.",
      read: (emit) => emit(r.archive?.writerStats?.inFlight ?? 0),
    })
    scrapeCounter(registry, {
      name: 'relay_archive_writer_writes_total',
      help: "Writes the archive's writer thread has answered (done or failed).",
      read: (emit) => emit(r.archive?.writerStats?.answered ?? 0),
    })
    scrapeCounter(registry, {
      name: 'relay_archive_writer_restarts_total',
      help: "Times the archive's writer thread died and was replaced.",
      read: (emit) => emit(r.archive?.writerStats?.restarts ?? 0),
    })
  }
  scrapeGauge(registry, {
    name: 'relay_compaction_running',
    help: '1 while a compaction of the mirror runs.',
    read: (emit) => emit(r.compactor?.progress.status === 'running' ? 1 : 0),
  })
}
