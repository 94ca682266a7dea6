// A worker thread's V8 heap as the metrics report it (used and committed bytes). Each worker is
// its own isolate, so its heap is not in the process's `nodejs_heap_*` series. Asking is a
// message to the thread: one that cannot answer within the timeout (busy with a long task, or
// ending) is left out rather than holding up a scrape.
import type { Worker } from 'node:worker_threads'

export interface ThreadHeap {
  readonly used: number
  readonly total: number
}

const HEAP_STATS_TIMEOUT_MS = 1000

/** `worker`'s heap, or null when it did not answer in time (or has ended). */
async function workerHeap(
  worker: Worker,
  timeoutMs = HEAP_STATS_TIMEOUT_MS,
): Promise<ThreadHeap | null> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs)
  })
  const asked = worker.getHeapStatistics().then(
    (h) => ({ used: h.used_heap_size, total: h.total_heap_size }),
    () => null,
  )
  try {
    return await Promise.race([asked, late])
  } finally {
    clearTimeout(timer)
  }
}

/** The heaps of `workers` that answered. */
export async function workerHeaps(workers: readonly Worker[]): Promise<ThreadHeap[]> {
  const each = await Promise.all(workers.map((w) => workerHeap(w)))
  return each.filter((h) => h !== null)
}
