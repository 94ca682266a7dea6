// How long a worker thread's event loop has been busy (Node's event-loop utilization: time not
// spent waiting for work), kept as one total that never decreases while the thread behind it is
// replaced: a verify worker or the archive's writer thread that dies is followed by a new one,
// whose own count starts at zero. The relay exports these totals, so an operator can see which
// thread saturates first (a verify worker, or the main thread, which more cores do not help).
// `busyByThread` reads every kind of thread at once, for both the metrics and the dashboard.
// `threadCpuMs` is the calling thread's CPU, which busy time overstates when cores are short.
// `busySinceLast` reads the calling thread's busy fraction window by window (where the main
// thread's ingest verifies is decided by it: ingest/verify-on-main.ts).
// Deliberately not here: turning totals into rates (Prometheus and the dashboard's recorder do).
import { performance } from 'node:perf_hooks'
import type { Worker } from 'node:worker_threads'

/**
 * CPU milliseconds (user and system) the calling thread has used: for the main thread, unlike
 * its busy time, not raised by waiting for a core (the metrics and the dashboard read it).
 */
export function threadCpuMs(): number {
  const cpu = process.threadCpuUsage()
  return (cpu.user + cpu.system) / 1000
}

/** The kinds of thread whose busy time the relay reports (metric labels, dashboard series). */
export const BUSY_THREADS = [
  'main',
  'upstream',
  'verify',
  'account_shards',
  'archive_writer',
] as const
export type BusyThread = (typeof BUSY_THREADS)[number]

/**
 * Each kind of thread's busy milliseconds so far and how many threads share them: the main
 * thread, the upstream socket threads when there are any, the verify pool's workers, the account
 * shards when there are any, and the archive's writer thread when there is one.
 */
export function busyByThread(threads: {
  readonly pool: { busyMs?(): number; readonly size?: number }
  readonly writer?: { readonly busyMs?: number } | undefined
  readonly upstream?: { busyMs(): number; readonly size: number } | undefined
  readonly shards?: { busyMs(): number; readonly count: number } | undefined
}): Map<BusyThread, { busyMs: number; threads: number }> {
  const { pool, writer, upstream, shards } = threads
  const busy = new Map<BusyThread, { busyMs: number; threads: number }>([
    ['main', { busyMs: performance.eventLoopUtilization().active, threads: 1 }],
  ])
  if (upstream !== undefined) {
    busy.set('upstream', { busyMs: upstream.busyMs(), threads: upstream.size })
  }
  const verify = pool.busyMs?.()
  if (verify !== undefined) busy.set('verify', { busyMs: verify, threads: pool.size ?? 1 })
  if (shards !== undefined) {
    busy.set('account_shards', { busyMs: shards.busyMs(), threads: shards.count })
  }
  if (writer?.busyMs !== undefined) {
    busy.set('archive_writer', { busyMs: writer.busyMs, threads: 1 })
  }
  return busy
}

export class ThreadBusyTime {
  /** Busy milliseconds of the threads replaced so far. */
  #ended = 0
  /** The most the current thread has been seen busy (an exited thread reads as zero). */
  #seen = 0

  /** Busy milliseconds of `worker` (the current thread) and of every thread it replaced. */
  read(worker: Worker | null): number {
    if (worker !== null) {
      // A thread that has stopped but whose exit is not yet reported reads `idle` -1 and its
      // whole lifetime as `active`: not a reading (it would count days of idling as busy).
      const { idle, active } = worker.performance.eventLoopUtilization()
      if (idle >= 0 && active > this.#seen) this.#seen = active
    }
    return this.#ended + this.#seen
  }

  /**
   * The current thread is being replaced (call before terminating it): its busy time stays in
   * the total. Time since the last read is lost when it has already exited.
   */
  replaced(worker: Worker | null): void {
    this.read(worker)
    this.#ended += this.#seen
    this.#seen = 0
  }
}

/**
 * A reader of the calling thread's event loop: each call answers the fraction of the time since
 * the previous call (since the reader was made, the first time) that the loop was busy, 0 to 1.
 */
export function busySinceLast(): () => number {
  let last = performance.eventLoopUtilization()
  return () => {
    const now = performance.eventLoopUtilization()
    const busy = performance.eventLoopUtilization(now, last).utilization
    last = now
    return Number.isFinite(busy) ? busy : 0
  }
}
