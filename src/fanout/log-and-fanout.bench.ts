// The main thread's floor if ingest ran on threads of its own: what is left when a thread hands
// over finished events (an accepted commit's output bytes, its DID, host and upstream seq) and
// the main thread only appends them to the real event log, lets the log write and fsync them,
// broadcasts each written batch to 10 consumers, and tells the thread which of its events are
// written (so the thread could move its hosts' cursors). The events are ~3.2 KB `#commit`
// frames, posted in one message per turn of the thread's loop, paced to a rate; the consumers
// live in a child process and count bytes. Reports the main thread's CPU per event at each
// rate, with one such thread and with four sharing the rate (more threads, smaller messages;
// SPLIT_BENCH_THREADS=1,2,8 picks other counts), to set beside the relay's today (the load
// generator's `mainUsPerEvent`, where the same thread also reads the hosts, runs ingest and
// takes the verify workers' replies).
import { once } from 'node:events'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { note } from '../../bench/harness.ts'
import { EventLog } from '../eventlog/event-log.ts'
import { tempDir, testInput } from '../eventlog/testing.ts'
import { Fanout } from './fanout.ts'
import { forkChildConsumers, openByteCounters } from './testing/byte-counters.ts'

const CONSUMERS = 10
const RATES = [3_000, 6_000, 10_000]
const THREADS = (process.env.SPLIT_BENCH_THREADS ?? '1,4').split(',').map(Number)
const SECONDS = Number(process.env.SPLIT_BENCH_SECONDS ?? 10)
const WARMUP_SECONDS = 3
const BLOCK_BYTES = 2_900

/** One finished event as a thread would post it. */
interface Finished {
  readonly prefix: Uint8Array
  readonly suffix: Uint8Array
  readonly did: string
  readonly hostId: number
  readonly upstreamSeq: number
}

if (process.argv[2] === '--clients') await runClients(process.argv[3] ?? '')
else if (!isMainThread && workerData?.shard) runShard()
else await runMain()

// ---- consumers (child process): count bytes after the handshake ----

async function runClients(url: string): Promise<void> {
  const counts = await openByteCounters(url, CONSUMERS)
  process.on('message', () => process.send?.({ bytes: Math.min(...counts) }))
  process.send?.({ ready: true })
}

// ---- the ingest thread stand-in: finished events, paced ----

function runShard(): void {
  const port = parentPort!
  // 1,024 distinct events, sent again and again with fresh upstream seqs.
  const made = Array.from({ length: 1024 }, (_, i) => testInput(i, BLOCK_BYTES))
  let timer: NodeJS.Timeout | undefined
  let upstreamSeq = 0
  const hostId = (workerData as { hostId: number }).hostId
  port.on('message', (m: { rate?: number; stop?: true; written?: number }) => {
    // Acknowledgements (`written`) would move a real thread's cursors; here they only arrive.
    if (m.written !== undefined) return
    clearInterval(timer)
    if (m.stop || m.rate === undefined) return
    const rate = m.rate
    const start = performance.now()
    let sent = 0
    timer = setInterval(() => {
      const due = Math.floor(((performance.now() - start) / 1000) * rate)
      const batch: Finished[] = []
      const transfer: ArrayBuffer[] = []
      for (; sent < due; sent++) {
        const input = made[sent % made.length]!
        // Each event's bytes are the thread's own to transfer, as a verify worker's are.
        const prefix = input.frame.prefix.slice()
        const suffix = input.frame.suffix.slice()
        transfer.push(prefix.buffer as ArrayBuffer, suffix.buffer as ArrayBuffer)
        batch.push({ prefix, suffix, did: input.did, hostId, upstreamSeq: ++upstreamSeq })
      }
      if (batch.length > 0) port.postMessage(batch, transfer)
    }, 1)
  })
}

// ---- the main thread: log, fan-out, acknowledgements ----

async function runMain(): Promise<void> {
  await using dir = await tempDir('split-bench-')
  const log = await EventLog.open({ dir: dir.path, initialSeq: 1, retentionMs: 3_600_000 })
  // The consumers count bytes and never answer a ping: no ping round within the run. The
  // takedown filter is the relay's shape, over an empty set.
  const hidden = new Set<string>()
  const fanout = new Fanout({
    log,
    maxBufferedBytes: 256 << 20,
    pingIntervalMs: 3_600_000,
    isHidden: (did) => hidden.has(did),
  })
  const consumers = await forkChildConsumers(fanout, fileURLToPath(import.meta.url), CONSUMERS)
  const child = consumers.child

  let written = 0
  const startThread = (hostId: number): Worker => {
    const thread = new Worker(new URL(import.meta.url), { workerData: { shard: true, hostId } })
    thread.on('message', (batch: Finished[]) => {
      for (const e of batch) {
        log.append({
          frame: { type: '#commit', prefix: e.prefix, suffix: e.suffix },
          hostId: e.hostId,
          upstreamSeq: e.upstreamSeq,
          did: e.did,
        })
      }
    })
    return thread
  }
  let threads: Worker[] = []
  log.onFlush((records) => {
    fanout.broadcast(records)
    written += records.length
    // Each thread learns which of its events are written: one message per thread per batch.
    // Here each thread is one host, so its last upstream seq says it all; a real shard's events
    // of one host can come back in any order, and would need every seq (or ranges).
    const last = new Map<number, number>()
    for (const r of records) last.set(r.hostId, r.upstreamSeq)
    for (const [hostId, upstreamSeq] of last)
      threads[hostId - 1]?.postMessage({ written: upstreamSeq })
  })

  const consumerBytes = async (): Promise<number> => {
    const reply = once(child, 'message')
    child.send({})
    return ((await reply)[0] as { bytes: number }).bytes
  }
  note(
    `${CONSUMERS} consumers in a child process, ~3.2 KB #commit frames, ${SECONDS} s per rate ` +
      `after ${WARMUP_SECONDS} s`,
  )
  for (const count of THREADS) {
    threads = Array.from({ length: count }, (_, i) => startThread(i + 1))
    for (const rate of RATES) {
      for (const t of threads) t.postMessage({ rate: rate / count })
      await new Promise((r) => setTimeout(r, WARMUP_SECONDS * 1000))
      const writtenBefore = written
      const bytesBefore = await consumerBytes()
      const cpuBefore = process.threadCpuUsage()
      const eluBefore = performance.eventLoopUtilization()
      const t0 = performance.now()
      await new Promise((r) => setTimeout(r, SECONDS * 1000))
      const cpu = process.threadCpuUsage(cpuBefore)
      const elu = performance.eventLoopUtilization(eluBefore)
      const seconds = (performance.now() - t0) / 1000
      const events = written - writtenBefore
      const mbPerConsumer = ((await consumerBytes()) - bytesBefore) / 1e6
      if (fanout.count !== CONSUMERS) note(`(only ${fanout.count} consumers left connected)`)
      const us = (cpu.user + cpu.system) / events
      note(
        `${count} thread(s), ${rate.toLocaleString('en-US')}/s offered: ` +
          `${Math.round(events / seconds).toLocaleString('en-US')}/s written, main thread ` +
          `${us.toFixed(1)} µs of CPU per event (${((cpu.user + cpu.system) / 1e6 / seconds).toFixed(2)} ` +
          `cores, loop ${(elu.utilization * 100).toFixed(0)}% busy), ` +
          `${(mbPerConsumer / seconds).toFixed(1)} MB/s to each consumer`,
      )
    }
    for (const t of threads) t.postMessage({ stop: true })
    await Promise.all(threads.map((t) => t.terminate()))
  }
  await consumers.close()
  await fanout.close()
  await log.close()
}
