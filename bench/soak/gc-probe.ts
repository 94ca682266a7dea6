// The soak's live-memory probe. RSS alone cannot tell memory in use from garbage V8 has not yet
// collected: Buffers that die in the old generation (a stuck consumer's unread batches, replay
// reads) stay resident until the next full collection, which V8 starts on its own schedule, so
// plain RSS saw-tooths by tens of MB. The probe asks the relay's main isolate for a full
// collection through its inspector (the relay runs with `--inspect` on a loopback port for the
// soak only), and in each verify worker's isolate, waits for the allocator to hand freed pages
// back, and reads RSS again: what is left is what the relay holds. A rising trend in those
// figures is a leak; a rising plain RSS with flat probes is collection timing.
import { InspectorSession } from '../../test/support/inspector-session.ts'
import { procStats, rssParts, scrape, value } from './sample.ts'

export { debuggerUrlIn, INSPECT_FLAG } from '../../test/support/inspector-session.ts'

/** One forced collection and what the relay held before and after it. */
export interface GcProbe {
  /** Seconds since the load started, when the collection was asked for. */
  readonly t: number
  readonly rssBeforeMB: number
  /** RSS once the allocator had `settleMs` to return the freed pages. */
  readonly rssAfterMB: number
  /** Main-thread heap used and external (Buffer) memory right after the collection (/metrics). */
  readonly heapUsedAfterMB: number
  readonly externalAfterMB: number
  /**
   * Where the RSS after the collection sits (sample.ts `rssParts`): V8's pages (every isolate),
   * the allocator's memory outside them, and the worker threads' committed heaps (verify
   * workers and account shards).
   */
  readonly v8PagesAfterMB: number
  readonly otherAnonAfterMB: number
  readonly workerHeapAfterMB: number
  /** Worker threads whose isolates were collected too. */
  readonly workersCollected: number
}

/**
 * Asks every isolate of the relay for a full garbage collection and resolves once they have run
 * (`HeapProfiler.collectGarbage` answers after the collection): the main thread's directly, the
 * verify workers' through the `NodeWorker` domain, which relays a message into each worker's own
 * session. Without the workers, their heaps (up to a young generation each) would count as live.
 */
export async function forceFullGc(debuggerUrl: string): Promise<number> {
  const session = await InspectorSession.open(debuggerUrl)
  try {
    await session.call('HeapProfiler.enable')
    await session.call('HeapProfiler.collectGarbage')
    const workers: string[] = []
    const answers = new Map<string, () => void>()
    session.on('NodeWorker.attachedToWorker', (p) => workers.push(String(p.sessionId)))
    session.on('NodeWorker.receivedMessageFromWorker', (p) => {
      const msg = JSON.parse(String(p.message)) as { id?: number }
      if (msg.id === 1) answers.get(String(p.sessionId))?.()
    })
    await session.call('NodeWorker.enable', { waitForDebuggerOnStart: false })
    // The workers already running are announced right after `enable` answers.
    await new Promise((r) => setTimeout(r, 200))
    for (const sessionId of workers) {
      const collected = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('worker GC: no answer in 30 s')), 30_000)
        answers.set(sessionId, () => {
          clearTimeout(timer)
          resolve()
        })
      })
      const message = JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' })
      await session.call('NodeWorker.sendMessageToWorker', { sessionId, message })
      await collected
    }
    await session.call('NodeWorker.disable')
    return workers.length
  } finally {
    session.close()
  }
}

/** Lines Node writes to stderr for the inspector; expected in a probed soak, not warnings. */
export function isInspectorNotice(line: string): boolean {
  return (
    line.startsWith('Debugger listening on ') ||
    line.startsWith('Debugger attached.') ||
    line.startsWith('Debugger ending on ') ||
    line.startsWith('For help, see: https://nodejs.org/') ||
    line.startsWith('Waiting for the debugger to disconnect')
  )
}

export interface ProbeTarget {
  readonly pid: number
  readonly debuggerUrl: string
  readonly metricsUrl: string
  /** How long after the collection to read RSS: the allocator returns pages lazily. */
  readonly settleMs: number
}

/**
 * One probe: RSS, a forced full collection, the main heap and Buffers right after it (before
 * new allocation muddies them), then RSS by kind once the allocator has had `settleMs`.
 */
export async function takeProbe(target: ProbeTarget, t: number): Promise<GcProbe> {
  const before = await procStats(target.pid)
  const workersCollected = await forceFullGc(target.debuggerUrl)
  const m = await scrape(target.metricsUrl)
  await new Promise((r) => setTimeout(r, target.settleMs))
  const [after, parts] = await Promise.all([procStats(target.pid), rssParts(target.pid)])
  const mb = (bytes: number) => bytes / 2 ** 20
  return {
    t,
    rssBeforeMB: mb(before.rss),
    rssAfterMB: mb(after.rss),
    heapUsedAfterMB: mb(value(m, 'nodejs_heap_size_used_bytes')),
    externalAfterMB: mb(value(m, 'nodejs_external_memory_bytes')),
    v8PagesAfterMB: mb(parts.v8Pages),
    otherAnonAfterMB: mb(parts.otherAnon + parts.mallocHeap),
    // With account shards, their isolates verify (the pool's one worker runs only for resyncs).
    workerHeapAfterMB: mb(
      value(m, 'relay_verify_worker_heap_bytes{kind="total"}') +
        value(m, 'relay_account_shard_heap_bytes{kind="total"}'),
    ),
    workersCollected,
  }
}
