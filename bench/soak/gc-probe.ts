// The soak's live-memory probe. RSS alone cannot tell memory in use from garbage V8 has not yet
// collected: Buffers that die in the old generation (a stuck consumer's unread batches, replay
// reads) stay resident until the next full collection, which V8 starts on its own schedule, so
// plain RSS saw-tooths by tens of MB. The probe asks the relay's main isolate for a full
// collection through its inspector (the relay runs with `--inspect` on a loopback port for the
// soak only), waits for the allocator to hand freed pages back, and reads RSS again: what is
// left is what the relay holds. A rising trend in those figures is a leak; a rising plain RSS
// with flat probes is collection timing. The verify workers are other isolates and are not
// collected here; their heaps are sampled separately (`relay_verify_worker_heap_bytes`).
import WebSocket from 'ws'

/** One forced collection and what the relay held before and after it. */
export interface GcProbe {
  /** Seconds since the load started, when the collection was asked for. */
  readonly t: number
  readonly rssBeforeMB: number
  /** RSS once the allocator had `settleMs` to return the freed pages. */
  readonly rssAfterMB: number
  /** Main-thread heap used and external (Buffer) memory after the collection, from /metrics. */
  readonly heapUsedAfterMB: number
  readonly externalAfterMB: number
  /**
   * Where the RSS after the collection sits (sample.ts `rssParts`): V8's pages (both isolates),
   * the allocator's memory outside them, and the verify workers' committed heaps (not collected
   * by the probe).
   */
  readonly v8PagesAfterMB: number
  readonly otherAnonAfterMB: number
  readonly workerHeapAfterMB: number
}

/** The inspector's WebSocket address for the relay's main thread. */
async function debuggerUrl(inspectPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${inspectPort}/json/list`, {
    signal: AbortSignal.timeout(5_000),
  })
  const targets = (await res.json()) as { webSocketDebuggerUrl?: string }[]
  const url = targets[0]?.webSocketDebuggerUrl
  if (!url) throw new Error(`no inspector target on port ${inspectPort}`)
  return url
}

/**
 * Asks the relay's main isolate for a full garbage collection and resolves once it has run
 * (`HeapProfiler.collectGarbage` answers after the collection).
 */
export async function forceFullGc(inspectPort: number): Promise<void> {
  const ws = new WebSocket(await debuggerUrl(inspectPort))
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    const calls = ['HeapProfiler.enable', 'HeapProfiler.collectGarbage']
    for (const [i, method] of calls.entries()) {
      const answered = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${method}: no answer in 30 s`)), 30_000)
        const onMessage = (data: WebSocket.RawData) => {
          const msg = JSON.parse(data.toString()) as { id?: number; error?: { message: string } }
          if (msg.id !== i + 1) return
          clearTimeout(timer)
          ws.off('message', onMessage)
          if (msg.error) reject(new Error(`${method}: ${msg.error.message}`))
          else resolve()
        }
        ws.on('message', onMessage)
      })
      ws.send(JSON.stringify({ id: i + 1, method }))
      await answered
    }
  } finally {
    ws.close()
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
