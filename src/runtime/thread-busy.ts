// How long a worker thread's event loop has been busy (Node's event-loop utilization: time not
// spent waiting for work), kept as one total that never decreases while the thread behind it is
// replaced: a verify worker or the archive's writer thread that dies is followed by a new one,
// whose own count starts at zero. The relay exports these totals, so an operator can see which
// thread saturates first (a verify worker, or the main thread, which more cores do not help).
// Deliberately not here: the main thread's own figure (perf_hooks gives it directly), and turning
// totals into rates (Prometheus does, from the counter).
import type { Worker } from 'node:worker_threads'

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
