// One downstream subscriber: its socket, where it is in the stream (`lastSeq`: the highest seq
// it has been sent or deliberately skipped), its send-buffer bound, liveness (ping/pong) and
// counters. Its only buffer is the socket's own send buffer, whose size is capped by `fits`;
// nothing else per consumer grows.
// Deliberately not here: the replay loop (replay.ts), broadcasting and closing policy (fanout.ts).
import type { WebSocket } from 'ws'
import type { ConsumerInfo } from './types.ts'
import { sendFrame, type WireBatch, whenWritable, writeBatch } from './wire.ts'

export interface ConsumerInit {
  readonly id: number
  readonly ws: WebSocket
  readonly remoteAddr: string
  readonly userAgent: string
  readonly cursor: number | null
  readonly connectedAt: string
  readonly maxBufferedBytes: number
  /** Called once, when the socket closes on its own (not after `leave`). */
  readonly onClose: (consumer: Consumer) => void
}

export class Consumer {
  readonly id: number
  readonly ws: WebSocket
  readonly remoteAddr: string
  readonly userAgent: string
  readonly cursor: number | null
  readonly connectedAt: string
  readonly #maxBufferedBytes: number
  #state: 'replaying' | 'live' | 'gone' = 'replaying'
  /** Highest seq sent to it or skipped for it; the next one it may get is above this. */
  lastSeq = 0
  eventsSent = 0
  bytesSent = 0
  /** A ping was sent and no pong has come back yet. */
  awaitingPong = false

  constructor(init: ConsumerInit) {
    this.id = init.id
    this.ws = init.ws
    this.remoteAddr = init.remoteAddr
    this.userAgent = init.userAgent
    this.cursor = init.cursor
    this.connectedAt = init.connectedAt
    this.#maxBufferedBytes = init.maxBufferedBytes
    // Anything the consumer sends is ignored (one-way stream); `ws` answers its pings itself.
    this.ws.on('error', () => {}) // 'close' follows every error
    this.ws.on('pong', () => {
      this.awaitingPong = false
    })
    this.ws.once('close', () => {
      if (this.#state === 'gone') return
      this.#state = 'gone'
      init.onClose(this)
    })
  }

  get state(): 'replaying' | 'live' | 'gone' {
    return this.#state
  }

  get open(): boolean {
    return this.#state !== 'gone'
  }

  /** Marks it live (called once, by the replay-to-live cutover or at attach). */
  goLive(): void {
    if (this.#state === 'replaying') this.#state = 'live'
  }

  /** Marks it gone without waiting for its socket; its close is someone else's business now. */
  leave(): void {
    this.#state = 'gone'
  }

  /** Bytes waiting in its send buffer. */
  get buffered(): number {
    return this.ws.bufferedAmount
  }

  /**
   * Whether `bytes` more may be queued without going over the bound. An empty buffer always
   * takes at least one more write, so a frame bigger than the bound does not cut off a consumer
   * that is keeping up.
   */
  fits(bytes: number): boolean {
    const buffered = this.ws.bufferedAmount
    return buffered === 0 || buffered + bytes <= this.#maxBufferedBytes
  }

  /** Queues a batch; `onWritten` as `writeBatch` says (the caller may reuse its buffer then). */
  write(batch: WireBatch, onWritten?: () => void): void {
    writeBatch(this.ws, batch, onWritten)
    this.eventsSent += batch.count
    this.bytesSent += batch.payloadBytes
  }

  /** A frame of fanout's own (`#info`); not counted as an event. */
  sendOwnFrame(frame: Uint8Array): void {
    sendFrame(this.ws, frame)
  }

  /** Resolves when the send buffer has drained (or soon; callers re-check) or the socket closed. */
  whenWritable(): Promise<void> {
    return whenWritable(this.ws)
  }

  info(): ConsumerInfo {
    return {
      id: this.id,
      remoteAddr: this.remoteAddr,
      userAgent: this.userAgent,
      cursor: this.cursor,
      eventsSent: this.eventsSent,
      bytesSent: this.bytesSent,
      connectedAt: this.connectedAt,
      state: this.#state === 'live' ? 'live' : 'replaying',
    }
  }
}
