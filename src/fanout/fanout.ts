// Serves `com.atproto.sync.subscribeRepos` to downstream consumers (docs/design.md §3, §4 items 1–3,
// 16, 21): checks each new subscription's cursor, replays from the log, switches it to live
// without gap or duplicate (replay.ts), and broadcasts every batch the log has just written to
// all live consumers as the same pre-framed bytes (wire.ts). Every consumer's send buffer is
// bounded: a live consumer over `maxBufferedBytes` gets `ConsumerTooSlow` and is closed, others
// are unaffected; a replaying one is waited for and keeps only a small window queued. All of them
// together are bounded by `maxTotalBufferedBytes`, replays to half of it (buffer-budget.ts says
// how, and who is cut first).
// Peers that stop answering pings are dropped.
// Connection limits: over `maxConsumers` (or `maxConsumersPerAddr`) a new subscription gets the
// error frame `TooManyConsumers` and is closed. Error frames are followed by close code 1008;
// shutdown closes with 1001.
// Deliberately not here: the HTTP upgrade, parsing `cursor` from the query, proxy headers
// (api/ does those and hands over an open socket), and reading the log's files (eventlog/).
import type { WebSocket } from 'ws'
import { encodeErrorFrame, encodeMessageFrame } from '../protocol/frame.ts'
import { overBudget, totalBuffered } from './buffer-budget.ts'
import { Consumer } from './consumer.ts'
import {
  CLOSE_GOING_AWAY,
  CLOSE_INTERNAL,
  CLOSE_POLICY,
  CONSUMER_TOO_SLOW,
  FanoutError,
  FUTURE_CURSOR,
  OUTDATED_CURSOR,
  TOO_MANY_CONSUMERS,
} from './errors.ts'
import { type ReplayContext, replay, SpareChunks } from './replay.ts'
import { SocketCloser } from './socket-closer.ts'
import type { ConsumerInfo, LogReader, LogRecord } from './types.ts'
import { buildWireBatch, type WireBatch } from './wire.ts'

export interface FanoutOptions {
  readonly log: LogReader
  /** Per consumer: its socket's send buffer plus what fanout gathers for it. */
  readonly maxBufferedBytes: number
  /** Every consumer's send buffer together, closing sockets included (default: no limit). */
  readonly maxTotalBufferedBytes?: number
  /** Most bytes one replay keeps queued in its socket (default 4 MiB, at most the bound). */
  readonly replayWindowBytes?: number
  /** Records per log read during replay (default 500). */
  readonly replayBatch?: number
  /**
   * Takedowns: records for which this returns true are skipped, on replay and live. It gets the
   * record's type too, so a caller can keep announcing `#account` events of hidden accounts.
   */
  readonly isHidden?: (did: string, type: string) => boolean
  /** Beyond it, new subscriptions get `TooManyConsumers` and are closed (default: no limit). */
  readonly maxConsumers?: number
  /** The same, per remote address (default: no limit). */
  readonly maxConsumersPerAddr?: number
  /** Ping period; a consumer that has not answered the previous ping is dropped (default 30 s). */
  readonly pingIntervalMs?: number
  /** How long a closing socket may take to finish the close handshake (default 5 s). */
  readonly closeGraceMs?: number
  /** Told when a replay fails (the log could not be read); the consumer is closed with 1011. */
  readonly onReplayError?: (error: unknown, consumer: ConsumerInfo) => void
  readonly now?: () => number
}

export interface AttachOptions {
  /** Non-negative safe integer, or undefined for live only. */
  readonly cursor: number | undefined
  readonly remoteAddr: string
  readonly userAgent: string
}

/** Cumulative counts since start, for metrics. */
export interface FanoutStats {
  accepted: number
  futureCursor: number
  outdatedCursor: number
  tooManyConsumers: number
  tooSlow: number
  /** Live consumers cut because all consumers together were over the budget. */
  overBudget: number
  /** Closing sockets terminated early, with unsent bytes, because of the budget. */
  shedClosing: number
  pingTimeouts: number
  replayFailures: number
}

const FUTURE_CURSOR_MESSAGE = 'Cursor in the future.'
const OUTDATED_CURSOR_MESSAGE =
  'Cursor is older than the events this relay retains; sending everything it has from the oldest.'
const CHUNK_BYTES = 256 * 1024
const REPLAY_WINDOW_BYTES = 4 * 1024 * 1024
const REPLAY_MEMO_MS = 5

export class Fanout {
  readonly #log: LogReader
  readonly #maxBufferedBytes: number
  readonly #maxTotalBufferedBytes: number
  /** What all replays together may hold: half the budget (buffer-budget.ts). */
  readonly #replayShare: number
  readonly #replaying = new Set<Consumer>()
  /**
   * The replays' total, recounted at most every few milliseconds (every waiting replay polls it)
   * and raised by every chunk queued in between, so it errs high, never low.
   */
  #replayHeld = { bytes: 0, at: Number.NEGATIVE_INFINITY }
  readonly #isHidden: ((did: string, type: string) => boolean) | undefined
  readonly #maxConsumers: number
  readonly #maxPerAddr: number
  readonly #onReplayError: ((error: unknown, consumer: ConsumerInfo) => void) | undefined
  readonly #now: () => number
  readonly #replayContext: ReplayContext
  readonly #consumers = new Map<number, Consumer>()
  readonly #live = new Set<Consumer>()
  readonly #perAddr = new Map<string, number>()
  readonly #replays = new Set<Promise<void>>()
  readonly #closer: SocketCloser
  readonly #pingTimer: NodeJS.Timeout
  readonly #stats: FanoutStats = {
    accepted: 0,
    futureCursor: 0,
    outdatedCursor: 0,
    tooManyConsumers: 0,
    tooSlow: 0,
    overBudget: 0,
    shedClosing: 0,
    pingTimeouts: 0,
    replayFailures: 0,
  }
  #nextId = 1
  #closed = false

  constructor(opts: FanoutOptions) {
    const positive = (name: string, v: number): number => {
      if (!Number.isSafeInteger(v) || v <= 0)
        throw new FanoutError('invalid-options', `${name} must be a positive integer`)
      return v
    }
    this.#log = opts.log
    this.#maxBufferedBytes = positive('maxBufferedBytes', opts.maxBufferedBytes)
    const window = Math.min(
      positive('replayWindowBytes', opts.replayWindowBytes ?? REPLAY_WINDOW_BYTES),
      this.#maxBufferedBytes,
    )
    const chunkBytes = Math.min(CHUNK_BYTES, window)
    this.#maxTotalBufferedBytes =
      opts.maxTotalBufferedBytes === undefined
        ? Number.POSITIVE_INFINITY
        : positive('maxTotalBufferedBytes', opts.maxTotalBufferedBytes)
    // A replay waits for room for one chunk in the replays' half of the budget; a budget smaller
    // than two chunks would stall it for ever.
    if (this.#maxTotalBufferedBytes < 2 * chunkBytes)
      throw new FanoutError(
        'invalid-options',
        `maxTotalBufferedBytes must be at least ${2 * chunkBytes} (two replay chunks)`,
      )
    this.#replayShare = Math.floor(this.#maxTotalBufferedBytes / 2)
    this.#isHidden = opts.isHidden
    this.#maxConsumers = opts.maxConsumers ?? Number.POSITIVE_INFINITY
    this.#maxPerAddr = opts.maxConsumersPerAddr ?? Number.POSITIVE_INFINITY
    this.#onReplayError = opts.onReplayError
    this.#now = opts.now ?? Date.now
    this.#closer = new SocketCloser(opts.closeGraceMs ?? 5000)
    this.#replayContext = {
      log: this.#log,
      batchRecords: positive('replayBatch', opts.replayBatch ?? 500),
      chunkBytes,
      windowBytes: window,
      lowWaterBytes: Math.floor(window / 2),
      hasRoom: (bytes) => this.#replayBytes(REPLAY_MEMO_MS) + bytes <= this.#replayShare,
      queued: (bytes) => {
        this.#replayHeld.bytes += bytes
      },
      isHidden: this.#isHidden,
      goLive: (c) => this.#goLive(c),
      spare: new SpareChunks(chunkBytes),
    }
    this.#pingTimer = setInterval(
      () => this.#pingRound(),
      positive('pingIntervalMs', opts.pingIntervalMs ?? 30_000),
    )
    this.#pingTimer.unref()
  }

  /** Consumers connected (replaying or live). */
  get count(): number {
    return this.#consumers.size
  }

  consumers(): ConsumerInfo[] {
    return [...this.#consumers.values()].map((c) => c.info())
  }

  /** Bytes waiting in every consumer's send buffer, sockets still closing included. */
  bufferedBytes(): number {
    return totalBuffered(this.#consumers.values()) + this.#closer.buffered
  }

  stats(): FanoutStats {
    return { ...this.#stats }
  }

  /** Takes over an open socket. Throws `FanoutError('invalid-cursor')` before touching it. */
  attach(ws: WebSocket, opts: AttachOptions): void {
    const { cursor } = opts
    if (cursor !== undefined && !(Number.isSafeInteger(cursor) && cursor >= 0))
      throw new FanoutError('invalid-cursor', `cursor must be a non-negative integer: ${cursor}`)
    if (this.#closed) {
      this.#closer.close(ws, CLOSE_GOING_AWAY)
      return
    }
    if (ws.readyState !== ws.OPEN) return
    const fromAddr = this.#perAddr.get(opts.remoteAddr) ?? 0
    if (this.#consumers.size >= this.#maxConsumers || fromAddr >= this.#maxPerAddr) {
      this.#stats.tooManyConsumers++
      const which = fromAddr >= this.#maxPerAddr ? 'from this address' : 'on this relay'
      const frame = encodeErrorFrame(TOO_MANY_CONSUMERS, `Too many subscriptions ${which}.`)
      this.#closer.close(ws, CLOSE_POLICY, frame)
      return
    }
    const flushed = this.#log.flushedSeq
    if (cursor !== undefined && cursor > flushed) {
      this.#stats.futureCursor++
      this.#closer.close(ws, CLOSE_POLICY, encodeErrorFrame(FUTURE_CURSOR, FUTURE_CURSOR_MESSAGE))
      return
    }
    const consumer = new Consumer({
      id: this.#nextId++,
      ws,
      remoteAddr: opts.remoteAddr,
      userAgent: opts.userAgent,
      cursor: cursor ?? null,
      connectedAt: new Date(this.#now()).toISOString(),
      maxBufferedBytes: this.#maxBufferedBytes,
      onClose: (c) => this.#forget(c),
    })
    this.#consumers.set(consumer.id, consumer)
    this.#perAddr.set(opts.remoteAddr, fromAddr + 1)
    this.#stats.accepted++
    if (cursor === undefined) {
      consumer.lastSeq = flushed
      this.#goLive(consumer)
      return
    }
    if (cursor !== 0) {
      const firstRetained = this.#log.oldestSeq() ?? flushed + 1
      if (cursor < firstRetained - 1) {
        this.#stats.outdatedCursor++
        const body = { name: OUTDATED_CURSOR, message: OUTDATED_CURSOR_MESSAGE }
        consumer.sendOwnFrame(encodeMessageFrame('#info', body))
      }
    }
    consumer.lastSeq = cursor
    this.#replaying.add(consumer)
    this.#startReplay(consumer)
  }

  /** Sends a batch the log has just written (seq order, seqs above every earlier broadcast). */
  broadcast(records: readonly LogRecord[]): void {
    if (this.#closed || this.#live.size === 0) return
    const first = records[0]
    const last = records[records.length - 1]
    if (first === undefined || last === undefined) return
    const visible = this.#visible(records)
    let batch: WireBatch | null = null
    let liveBuffered = 0
    for (const c of this.#live) {
      if (c.lastSeq >= first.seq) {
        // Only if the log raised flushedSeq before broadcasting older records: send what is new.
        const newer = visible.filter((r) => r.seq > c.lastSeq)
        if (newer.length > 0) this.#deliver(c, buildWireBatch(newer.map((r) => r.frame)))
      } else if (visible.length > 0) {
        batch ??= buildWireBatch(visible.map((r) => r.frame))
        this.#deliver(c, batch)
      }
      if (last.seq > c.lastSeq) c.lastSeq = last.seq
      if (c.open) liveBuffered += c.buffered
    }
    if (this.#maxTotalBufferedBytes !== Number.POSITIVE_INFINITY) this.#enforceBudget(liveBuffered)
  }

  /** Closes every consumer (1001), stops replays, and waits for sockets and replays to finish. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true
      clearInterval(this.#pingTimer)
      for (const c of [...this.#consumers.values()]) this.#drop(c, CLOSE_GOING_AWAY)
    }
    await Promise.allSettled([...this.#replays])
    await this.#closer.settled()
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  #visible(records: readonly LogRecord[]): readonly LogRecord[] {
    const isHidden = this.#isHidden
    if (isHidden === undefined) return records
    let hidden = false
    for (const r of records) if (isHidden(r.did, r.type)) hidden = true
    return hidden ? records.filter((r) => !isHidden(r.did, r.type)) : records
  }

  #deliver(c: Consumer, batch: WireBatch): void {
    if (!c.fits(batch.bytes.length)) {
      this.#stats.tooSlow++
      const message = `Consumer too slow: more than ${this.#maxBufferedBytes} bytes waiting to be sent.`
      this.#drop(c, CLOSE_POLICY, encodeErrorFrame(CONSUMER_TOO_SLOW, message))
      return
    }
    c.write(batch)
  }

  /**
   * Over the relay-wide budget (buffer-budget.ts): terminate closing sockets that still hold
   * bytes, largest first, then cut the live consumers holding the most, until the total fits.
   */
  #enforceBudget(liveBuffered: number): void {
    const budget = this.#maxTotalBufferedBytes
    // The cheap bound first (this runs on every broadcast): replays never hold more than their
    // share, so only when live consumers and closing sockets pass the rest are replays summed.
    const closing = this.#closer.buffered
    if (liveBuffered + closing + this.#replayShare <= budget) return
    let excess = liveBuffered + closing + this.#replayBytes(0) - budget
    if (excess <= 0) return
    if (closing > 0) {
      const shed = this.#closer.shed(excess)
      this.#stats.shedClosing += shed.sockets
      excess -= shed.bytes
    }
    // Cut at once, without an error frame: it would queue behind everything the consumer has not
    // read, and the memory is what is short. Its reconnection resumes from its cursor.
    for (const c of overBudget(this.#live, liveBuffered, liveBuffered - excess)) {
      this.#stats.overBudget++
      this.#forget(c)
      c.leave()
      this.#closer.terminate(c.ws)
    }
  }

  /** What the replays hold now, or as summed at most `maxAgeMs` ago. */
  #replayBytes(maxAgeMs: number): number {
    const now = performance.now()
    if (now - this.#replayHeld.at > maxAgeMs) {
      this.#replayHeld = { bytes: totalBuffered(this.#replaying), at: now }
    }
    return this.#replayHeld.bytes
  }

  #goLive(c: Consumer): void {
    this.#replaying.delete(c)
    if (!c.open) return
    c.goLive()
    this.#live.add(c)
  }

  #startReplay(c: Consumer): void {
    const run = replay(c, this.#replayContext).catch((err: unknown) => {
      this.#stats.replayFailures++
      const info = c.info()
      this.#drop(c, CLOSE_INTERNAL)
      this.#onReplayError?.(err, info)
    })
    const tracked = run.finally(() => this.#replays.delete(tracked))
    this.#replays.add(tracked)
  }

  #pingRound(): void {
    for (const c of [...this.#consumers.values()]) {
      if (c.awaitingPong) {
        this.#stats.pingTimeouts++
        this.#forget(c)
        c.leave()
        this.#closer.terminate(c.ws)
        continue
      }
      c.awaitingPong = true
      c.ws.ping()
    }
  }

  /** Stops serving `c` at once and closes its socket (with a last frame if given). */
  #drop(c: Consumer, code: number, lastFrame?: Uint8Array): void {
    this.#forget(c)
    c.leave()
    this.#closer.close(c.ws, code, lastFrame)
  }

  #forget(c: Consumer): void {
    if (!this.#consumers.delete(c.id)) return
    this.#live.delete(c)
    this.#replaying.delete(c)
    const n = (this.#perAddr.get(c.remoteAddr) ?? 1) - 1
    if (n > 0) this.#perAddr.set(c.remoteAddr, n)
    else this.#perAddr.delete(c.remoteAddr)
  }
}
