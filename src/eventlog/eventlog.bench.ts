// Event log throughput: sustained appends of ~3 KB frames (the writer batching on its timer, the
// default 1 s fdatasync), at several flush intervals to show what batching buys; the synchronous
// cost of one append; playback reads from a cursor 100k records back; and what opening costs per
// GB of retained log, with the sealed segments' index files and with every record checked. Files live in a temp dir on
// the machine's disk; reads right after writing come from the page cache.
import { readdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { setImmediate as tick } from 'node:timers/promises'
import { measure, note } from '../../bench/harness.ts'
import { EventLog } from './event-log.ts'
import { tempDir, testInput } from './testing.ts'
import type { AppendInput } from './types.ts'

const FRAME_BLOCK_BYTES = 2900
const inputs: AppendInput[] = Array.from({ length: 1024 }, (_, i) =>
  testInput(i, FRAME_BLOCK_BYTES),
)
const frameBytes =
  inputs.reduce((n, x) => n + x.frame.prefix.length + x.frame.suffix.length + 3, 0) / inputs.length
note(`frames of ~${Math.round(frameBytes)} bytes`)

const mb = (bytes: number): string => (bytes / 1e6).toFixed(0)

/** Appends `total` records as fast as the loop allows, yielding every `perTick`; waits for all. */
async function sustained(flushIntervalMs: number, total: number, perTick = 64): Promise<void> {
  await using dir = await tempDir('eventlog-bench-')
  const log = await EventLog.open({
    dir: dir.path,
    initialSeq: 1,
    retentionMs: 3_600_000,
    flushIntervalMs,
  })
  let maxPending = 0
  const start = performance.now()
  for (let i = 0; i < total; i += perTick) {
    for (let j = 0; j < perTick; j++) log.append(inputs[(i + j) & 1023]!)
    if (log.pendingBytes > maxPending) maxPending = log.pendingBytes
    await tick()
  }
  await log.flush()
  const ms = performance.now() - start
  const s = log.stats()
  const rate = Math.round((total / ms) * 1000).toLocaleString('en-US')
  note(
    `flushIntervalMs ${String(flushIntervalMs).padStart(2)}: ${rate} appends/s, ` +
      `${mb((s.bytes / ms) * 1000)} MB/s, ${(s.recordsWritten / s.writeCalls).toFixed(0)} records ` +
      `per write call, ${s.syncs} fdatasyncs, max pending ${mb(maxPending)} MB`,
  )
  await log.close()
}

/** Appends at `perSecond` (a slice every millisecond) for `seconds`; reports batching and CPU. */
async function paced(flushIntervalMs: number, perSecond: number, seconds: number): Promise<void> {
  await using dir = await tempDir('eventlog-bench-')
  const log = await EventLog.open({
    dir: dir.path,
    initialSeq: 1,
    retentionMs: 3_600_000,
    flushIntervalMs,
  })
  const total = perSecond * seconds
  const cpu = process.cpuUsage()
  const start = performance.now()
  let done = 0
  while (done < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * perSecond))
    for (; done < due; done++) log.append(inputs[done & 1023]!)
    await new Promise((r) => setTimeout(r, 1))
  }
  await log.flush()
  const used = process.cpuUsage(cpu)
  const s = log.stats()
  note(
    `${String(perSecond).padStart(6)}/s, flushIntervalMs ${String(flushIntervalMs).padStart(2)}: ` +
      `${(s.recordsWritten / s.writeCalls).toFixed(1).padStart(5)} records per write call, ` +
      `${((used.user + used.system) / total).toFixed(1)} µs CPU per record (process total)`,
  )
  await log.close()
}

note('sustained appends, 200k records (~600 MB), as fast as the disk takes them:')
for (const interval of [0, 5]) await sustained(interval, 200_000)
note('paced appends (what batching buys at realistic rates):')
for (const rate of [2_000, 10_000]) for (const interval of [0, 5]) await paced(interval, rate, 2)

// Synchronous append cost (seq splice + record encode + buffer), with writes off the clock.
{
  await using dir = await tempDir('eventlog-bench-')
  const log = await EventLog.open({
    dir: dir.path,
    initialSeq: 1,
    retentionMs: 3_600_000,
    flushIntervalMs: 1_000_000,
  })
  let i = 0
  measure('append() alone, ~3 KB frame (no I/O)', () => log.append(inputs[i++ & 1023]!), {
    minMs: 300,
    warmupMs: 100,
  })
  await log.close()
}

// Playback: 150k records on disk, read from 100k back in pages of 500, then reopen.
{
  const dir = await tempDir('eventlog-bench-')
  const opts = { dir: dir.path, initialSeq: 1, retentionMs: 3_600_000 }
  let log = await EventLog.open(opts)
  const total = 150_000
  for (let i = 0; i < total; i += 500) {
    for (let j = 0; j < 500; j++) log.append(inputs[(i + j) & 1023]!)
    await log.flush()
  }
  for (const page of [100, 500, 2000]) {
    let cursor = total - 100_000
    let records = 0
    let bytes = 0
    const start = performance.now()
    for (;;) {
      const batch = await log.read(cursor, page)
      if (batch.length === 0) break
      records += batch.length
      for (const r of batch) bytes += r.frame.length
      cursor = batch.at(-1)!.seq
    }
    const ms = performance.now() - start
    note(
      `playback from 100k back, pages of ${page}: ` +
        `${Math.round((records / ms) * 1000).toLocaleString('en-US')} records/s, ` +
        `${mb((bytes / ms) * 1000)} MB/s of frames`,
    )
  }
  let k = 0
  const recent = [1, 10, 100, 1000]
  await (async () => {
    const start = performance.now()
    const n = 2000
    for (let i = 0; i < n; i++) await log.read(total - recent[k++ & 3]!, 10)
    const us = ((performance.now() - start) * 1000) / n
    note(`read(cursor 1–1000 back, 10 records): ${us.toFixed(0)} µs per call`)
  })()
  const size = log.stats().bytes
  await log.close()
  const start = performance.now()
  log = await EventLog.open(opts)
  const ms = performance.now() - start
  note(
    `open ${mb(size)} MB (${log.stats().segments} segments, ` +
      `${log.recovery.segmentsFromIndex} from index files): ` +
      `${ms.toFixed(0)} ms, ${mb((size / ms) * 1000)} MB/s (page cache warm)`,
  )
  await log.close()
  await rm(dir.path, { recursive: true, force: true })
}

// Opening ~1 GB in 64 MiB segments: older segments from their index files (what a restart does),
// then with the index files deleted (every record checked, as a log without them is opened).
{
  const dir = await tempDir('eventlog-bench-')
  const opts = {
    dir: dir.path,
    initialSeq: 1,
    retentionMs: 3_600_000,
    segmentMaxBytes: 64 * 1024 * 1024,
  }
  let log = await EventLog.open(opts)
  for (let i = 0; log.stats().bytes < 1024 * 1024 * 1024; i += 500) {
    for (let j = 0; j < 500; j++) log.append(inputs[(i + j) & 1023]!)
    await log.flush()
  }
  const { bytes, segments } = log.stats()
  await log.close()
  for (const withIndex of [true, false]) {
    if (!withIndex)
      for (const name of await readdir(dir.path))
        if (name.endsWith('.idx')) await rm(join(dir.path, name))
    const start = performance.now()
    log = await EventLog.open(opts)
    const ms = performance.now() - start
    const { segmentsFromIndex } = log.recovery
    note(
      `open ${mb(bytes)} MB in ${segments} segments, ${segmentsFromIndex} from index files: ` +
        `${ms.toFixed(0)} ms (page cache warm)`,
    )
    await log.close()
  }
  await rm(dir.path, { recursive: true, force: true })
}
