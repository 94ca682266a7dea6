// Replay from a cursor, then the switch to live with no gap and no duplicate.
// The loop reads the log in batches after the consumer's `lastSeq` and sends what it reads,
// until `lastSeq` has reached the log's `flushedSeq`; at that moment, in the same synchronous
// step, it hands the consumer to `goLive`. Broadcasts that happen meanwhile are not sent to a
// replaying consumer: every one of them carries seqs up to a `flushedSeq` the loop will still
// read. The first broadcast after the switch carries the seqs right after it.
// Backpressure: a replay keeps only a small window queued in the socket (`windowBytes`, a few
// MiB: enough to keep a fast reader busy, far below the per-consumer bound a live consumer may
// fill), and the next log read starts while the socket drains to the low-water mark. A frame is
// only queued when it fits the window and the replays' share of the relay-wide budget has room
// for it (`hasRoom`, buffer-budget.ts), so a replay holds about one window plus one log batch,
// however many replays run. A replaying consumer that reads slowly is waited for, not cut off;
// one that stops answering pings is dropped by the fanout's ping round.
// Deliberately not here: cursor checks and `#info` (fanout.ts), reading the log's files.
import type { Consumer } from './consumer.ts'
import type { LogReader, ReusedReadBuffer } from './types.ts'
import { buildWireBatch, wireLength } from './wire.ts'

export interface ReplayContext {
  readonly log: LogReader
  /** Records per log read. */
  readonly batchRecords: number
  /** Bytes gathered into one socket write. */
  readonly chunkBytes: number
  /** Most bytes a replay keeps queued in its socket (an empty socket always takes one chunk). */
  readonly windowBytes: number
  /** Before reading the next batch, wait until the socket's buffer is at most this. */
  readonly lowWaterBytes: number
  /** Whether the replays' share of the relay-wide budget has room for `bytes` more. */
  readonly hasRoom: (bytes: number) => boolean
  /** Told of every chunk queued, so the share's running sum stays exact between recounts. */
  readonly queued: (bytes: number) => void
  readonly isHidden: ((did: string, type: string) => boolean) | undefined
  /** Called synchronously when the consumer has everything up to the log's `flushedSeq`. */
  readonly goLive: (consumer: Consumer) => void
  /** Chunk buffers kept for reuse, shared by every replay (`new SpareChunks(chunkBytes)`). */
  readonly spare: SpareChunks
}

/** Spare chunks kept in all, however many replays run (~2.3 MiB of 256 KiB chunks). */
const SPARE_CHUNKS = 8

/**
 * Chunk buffers the sockets have taken, kept for the next chunk of any replay. Shared and
 * bounded, so that a crowd of replays (every consumer reconnecting after a restart) holds no
 * more memory outside the consumers' budget than one replay does.
 */
export class SpareChunks {
  /** Bytes of each chunk: a chunk's frames plus their WebSocket headers. */
  readonly capacity: number
  readonly #free: Buffer[] = []

  constructor(chunkBytes: number) {
    this.capacity = chunkBytes + (chunkBytes >> 3)
  }

  get count(): number {
    return this.#free.length
  }

  take(): Buffer {
    return this.#free.pop() ?? Buffer.allocUnsafeSlow(this.capacity)
  }

  /** Back once its socket has taken it; let go when enough are kept. */
  give(chunk: Buffer): void {
    if (this.#free.length < SPARE_CHUNKS) this.#free.push(chunk)
  }
}

/** Replays until the consumer is live or gone. Rejects if the log read fails. */
export async function replay(consumer: Consumer, ctx: ReplayContext): Promise<void> {
  const { log } = ctx
  const pending: Uint8Array[] = []
  let pendingBytes = 0
  // Memory reused: the log's read buffer, for the whole replay (each batch's frames are copied
  // into chunks before the next read), and chunks the sockets have taken (`ctx.spare`). A replay
  // reads the log at hundreds of MB/s; new buffers for each batch and chunk, all outside V8's
  // heap, made V8 run a full collection every ~64 MB, a fifth of the replay's time
  // (BENCHMARKS.md, session 23). Beyond what its socket holds (the window, counted in the
  // budget), a replay keeps one read batch (~1.7 MB of 3.3 KB commits), as it did before.
  const readBuffer: ReusedReadBuffer = { buffer: undefined }
  const { spare } = ctx
  // Room in this replay's window (an empty socket always takes one write, so a frame larger than
  // the window still goes out) and, checked once per chunk, in the replays' share of the budget.
  const fits = (bytes: number): boolean => {
    const buffered = consumer.buffered
    if (buffered !== 0 && buffered + bytes > ctx.windowBytes) return false
    return pendingBytes > 0 || ctx.hasRoom(Math.max(bytes, ctx.chunkBytes))
  }
  const flush = (): void => {
    if (pending.length === 0) return
    ctx.queued(pendingBytes)
    if (wireLength(pending) > spare.capacity) {
      consumer.write(buildWireBatch(pending)) // a frame larger than a chunk: a buffer of its own
    } else {
      const chunk = spare.take()
      consumer.write(buildWireBatch(pending, chunk), () => spare.give(chunk))
    }
    pending.length = 0
    pendingBytes = 0
  }
  while (consumer.open) {
    const target = log.flushedSeq
    if (consumer.lastSeq >= target) {
      ctx.goLive(consumer)
      return
    }
    const reading = log.read(consumer.lastSeq, ctx.batchRecords, readBuffer)
    reading.catch(() => {}) // awaited below; keeps a failure from counting as unhandled meanwhile
    while (consumer.open && consumer.buffered > ctx.lowWaterBytes) await consumer.whenWritable()
    const records = await reading
    if (!consumer.open) return
    if (records.length === 0) {
      // Nothing in (lastSeq, target]: the read saw at least up to target.
      consumer.lastSeq = Math.max(consumer.lastSeq, target)
      continue
    }
    for (const record of records) {
      if (record.seq <= consumer.lastSeq) continue
      if (ctx.isHidden === undefined || !ctx.isHidden(record.did, record.type)) {
        const size = record.frame.length
        if (
          pendingBytes > 0 &&
          (pendingBytes + size > ctx.chunkBytes || !fits(pendingBytes + size))
        ) {
          flush()
        }
        while (consumer.open && !fits(size)) await consumer.whenWritable()
        if (!consumer.open) return
        pending.push(record.frame)
        pendingBytes += size
      }
      consumer.lastSeq = record.seq
    }
    flush()
  }
}
