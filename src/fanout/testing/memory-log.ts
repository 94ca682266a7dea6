// Test support: an in-memory `LogReader` with the real log's contract (flushedSeq raised before
// the records are handed to broadcast), retention trimming, and a hook that runs before each
// read resolves, so tests can make broadcasts happen in the middle of a replay.
// Deliberately not a log: no files, no bound other than what a test appends.
import { encodeMessageFrame } from '../../protocol/frame.ts'
import type { LogReader, LogRecord } from '../types.ts'

export class MemoryLog implements LogReader {
  #records: LogRecord[] = []
  #flushedSeq: number
  /** Runs (awaited) inside every `read`, before it collects its answer. */
  beforeRead: (() => Promise<void>) | undefined
  reads = 0

  constructor(initialSeq = 1) {
    this.#flushedSeq = initialSeq - 1
  }

  get flushedSeq(): number {
    return this.#flushedSeq
  }

  oldestSeq(): number | null {
    return this.#records[0]?.seq ?? null
  }

  async read(afterSeq: number, maxRecords: number): Promise<readonly LogRecord[]> {
    this.reads++
    await this.beforeRead?.()
    const out: LogRecord[] = []
    for (const r of this.#records) {
      if (r.seq <= afterSeq) continue
      if (out.length >= maxRecords) break
      out.push(r)
    }
    return out
  }

  /** Appends one record per DID (frames carry seq and did) and raises flushedSeq. */
  append(dids: readonly string[], padBytes = 0): LogRecord[] {
    const out: LogRecord[] = []
    for (const did of dids) {
      const seq = ++this.#flushedSeq
      const body: Record<string, unknown> = { seq, did, time: '2026-01-01T00:00:00.000Z' }
      if (padBytes > 0) body.pad = 'x'.repeat(padBytes)
      const frame = encodeMessageFrame('#identity', body)
      const record = { seq, timeMs: 0, hostId: 1, upstreamSeq: seq, did, type: '#identity', frame }
      this.#records.push(record)
      out.push(record)
    }
    return out
  }

  /** Appends `count` records for one DID, each padded with `padBytes` (a burst of big frames). */
  appendPadded(count: number, padBytes: number): LogRecord[] {
    return this.append(
      Array.from({ length: count }, () => 'did:plc:x'),
      padBytes,
    )
  }

  /** Resolves once no read has started for 200 ms: a replay is waiting on its socket. */
  async readsSettled(): Promise<void> {
    let reads = -1
    while (reads !== this.reads) {
      reads = this.reads
      await new Promise((r) => setTimeout(r, 200))
    }
  }

  /** Drops every record with seq < seq (retention). */
  trimBefore(seq: number): void {
    this.#records = this.#records.filter((r) => r.seq >= seq)
  }
}
