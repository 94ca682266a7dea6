// How busy each of the relay's threads is: the time each event loop spent working rather than
// waiting (Node's event-loop utilization), as counters an operator turns into rates. The main
// thread runs ingest, the log and fan-out (and the upstream sockets, unless `--upstream-threads`
// moves them to threads of their own; and the verification, at rates it carries alone:
// `relay_verify_on_main`) and cannot be split across cores; the verify workers are
// as many as `--verify-workers`; archival mode on SQLite adds the archive's writer.
// `rate(relay_thread_busy_seconds_total{thread="main"}[1m])` near 1 means the relay is at its
// ceiling whatever the cores; `rate(...{thread="verify"}[1m]) / relay_verify_workers` near 1
// means more cores (workers) would help.
// The main thread's CPU time is here too: busy time counts a thread that waits for a core as
// busy, so on a machine whose cores are all in use it overstates the main thread, and its CPU
// per event (its rate over `sum(rate(relay_events_received_total[1m]))`) is the figure that
// says how far it is from its ceiling.
// Deliberately not here: the other threads' CPU (the process metrics have the whole process's;
// a worker's own is only readable asynchronously), and reading the threads' busy time
// (runtime/thread-busy.ts, which the dashboard's series use too).
import type { Registry } from 'prom-client'
import { busyByThread, threadCpuMs } from '../runtime/thread-busy.ts'
import type { MetricsSources } from './metrics-sources.ts'
import { scrapeCounter, scrapeGauge } from './scrape-metric.ts'

export function registerThreadMetrics(registry: Registry, s: MetricsSources): void {
  scrapeCounter<'thread'>(registry, {
    name: 'relay_thread_busy_seconds_total',
    help: "Seconds each thread's event loop was busy: main, upstream (socket threads together, with --upstream-threads), verify (all workers together), account_shards (with --account-shards), archive_writer (archival mode on SQLite).",
    labelNames: ['thread'],
    read: (emit) => {
      const threads = {
        pool: s.pool,
        writer: s.resync.archive?.writerStats,
        upstream: s.socketThreads,
        shards: s.shards,
      }
      for (const [thread, b] of busyByThread(threads)) emit(b.busyMs / 1000, { thread })
    },
  })
  scrapeCounter(registry, {
    name: 'relay_main_thread_cpu_seconds_total',
    help: 'CPU seconds (user and system) the main thread has used: what limits the relay whatever the cores.',
    // Scraped on the main thread, so the calling thread's CPU is the main thread's.
    read: (emit) => emit(threadCpuMs() / 1000),
  })
  scrapeCounter(registry, {
    name: 'relay_account_shard_verifications_lent_total',
    help: 'Verifications an account shard handed to a less busy shard because it was behind (--account-shards).',
    read: (emit) => emit(s.shards?.verificationsLent() ?? 0),
  })
  scrapeCounter<'shard'>(registry, {
    name: 'relay_account_shard_events_total',
    help: 'Upstream events handed to each account shard (--account-shards), by shard index: how evenly the accounts spread.',
    labelNames: ['shard'],
    read: (emit) => {
      for (const [shard, l] of (s.shards?.load() ?? []).entries()) emit(l.events, { shard })
    },
  })
  scrapeGauge<'shard'>(registry, {
    name: 'relay_account_shard_backlog',
    help: 'Work waiting at each account shard now (--account-shards): events it has not taken yet, accounts with an event in progress less those out on loan, and loans it runs for others.',
    labelNames: ['shard'],
    read: (emit) => {
      for (const [shard, l] of (s.shards?.load() ?? []).entries()) emit(l.backlog, { shard })
    },
  })
  scrapeGauge(registry, {
    name: 'relay_upstream_threads',
    help: 'Threads reading upstream sockets (--upstream-threads; 0: the main thread reads).',
    read: (emit) => emit(s.socketThreads?.size ?? 0),
  })
  scrapeCounter(registry, {
    name: 'relay_upstream_thread_restarts_total',
    help: 'Upstream socket threads replaced after they failed (their hosts reconnected).',
    read: (emit) => emit(s.socketThreads?.restarts ?? 0),
  })
  scrapeCounter(registry, {
    name: 'relay_upstream_thread_stalls_total',
    help: 'Times an upstream socket thread stopped reading its sockets because the main thread had not taken its frames yet (back-pressure).',
    read: (emit) => emit(s.socketThreads?.stalls ?? 0),
  })
  scrapeGauge(registry, {
    name: 'relay_upstream_thread_waiting_bytes',
    help: 'Bytes of frames the upstream socket threads sent that the main thread has not yet taken (each thread stops reading past 8 MiB).',
    read: (emit) => emit(s.socketThreads?.waitingBytes ?? 0),
  })
  scrapeCounter<'thread'>(registry, {
    name: 'relay_verified_events_total',
    help: 'Events whose verification ingest on the main thread started, by where it ran: main (the main thread, --verify-on-main) or worker (the verify pool). Not with --account-shards.',
    labelNames: ['thread'],
    read: (emit) => {
      const counts = s.verification?.counts
      if (counts === undefined) return
      emit(counts.main, { thread: 'main' })
      emit(counts.workers, { thread: 'worker' })
    },
  })
  scrapeGauge(registry, {
    name: 'relay_verify_on_main',
    help: '1 while the main thread verifies the events itself (a rate it carries alone, --verify-on-main), 0 while the verify workers do, as of the last event; 0 with --account-shards, whose threads verify their own.',
    read: (emit) => {
      if (s.verification !== undefined) emit(s.verification.onMain ? 1 : 0)
    },
  })
  scrapeGauge(registry, {
    name: 'relay_verify_workers',
    help: 'Verify worker threads (--verify-workers; 1 with --verify-workers 0 or --account-shards: the worker for whole repos, started when one needs verifying).',
    read: (emit) => {
      if (s.pool.size !== undefined) emit(s.pool.size)
    },
  })
  scrapeGauge(registry, {
    name: 'relay_verify_workers_ready',
    help: 'Verify worker threads started and listening now: fewer than relay_verify_workers while some start, are replaced, or are set aside. With --verify-on-main, none until the first event (or, in archival mode, whole repo) is handed to them, and none again after 5 minutes without one; with --verify-workers 0 or --account-shards, the repo worker runs only while whole repos need verifying and a minute after.',
    read: (emit) => {
      if (s.pool.readyWorkers !== undefined) emit(s.pool.readyWorkers)
    },
  })
}
