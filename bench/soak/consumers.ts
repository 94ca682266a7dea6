// The soak's firehose consumers. Every one checks, within each connection, that the seqs it gets
// go up by exactly one (no gap, no duplicate) and that every frame is strict DAG-CBOR:
// - honest: connects once, live, and reads everything; if the relay ever closes it, it comes
//   back with its last seq as cursor and continuity must hold across the reconnection too;
// - churn: connects (live, or from a cursor a little behind) and leaves after 0.3–3 s, closing
//   cleanly or just dropping the socket, again and again;
// - stuck: connects and never reads (the socket is paused) until the relay must have cut it off
//   (ping timeout or ConsumerTooSlow), then drains what reached it, and starts over;
// - replay: every so often asks for everything from cursor 0, reads a bounded amount as fast as
//   it can and leaves.
import WebSocket from 'ws'
import { decodeFrame } from '../../src/protocol/frame.ts'

export interface Violation {
  readonly consumer: string
  readonly kind: 'gap' | 'duplicate' | 'bad-frame'
  /** Seconds since the soak started. */
  readonly at: number
  readonly detail: string
}

export interface ConsumerContext {
  readonly wsUrl: string
  /** Seconds since the soak started. */
  readonly elapsed: () => number
  readonly violation: (v: Violation) => void
  /** The highest seq an honest consumer has seen (churn and replay aim near it). */
  readonly head: () => number
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** `p`, or false after `ms` (the timer is cleared either way, so nothing is left pending). */
function within(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>((r) => {
    timer = setTimeout(() => r(false), ms)
  })
  return Promise.race([p.then(() => true), late]).finally(() => clearTimeout(timer))
}

/** One connection's reading: continuity from the first seq (or from the cursor, if given). */
class Session {
  last: number | null
  received = 0
  firstSeq: number | null = null
  readonly errors: string[] = []
  readonly name: string
  readonly ctx: ConsumerContext

  constructor(name: string, ctx: ConsumerContext, cursor: number | null) {
    this.name = name
    this.ctx = ctx
    this.last = cursor
  }

  take(data: Uint8Array): void {
    let frame: ReturnType<typeof decodeFrame>
    try {
      frame = decodeFrame(data)
    } catch (err) {
      this.#violate('bad-frame', String(err))
      return
    }
    if (frame.op === -1) {
      this.errors.push(frame.error)
      return
    }
    const seq = frame.body.seq
    if (typeof seq !== 'number') return // #info
    this.received++
    this.firstSeq ??= seq
    if (this.last !== null && seq !== this.last + 1) {
      this.#violate(seq > this.last ? 'gap' : 'duplicate', `after ${this.last} got ${seq}`)
    }
    if (this.last === null || seq > this.last) this.last = seq
  }

  #violate(kind: Violation['kind'], detail: string): void {
    this.ctx.violation({ consumer: this.name, kind, at: this.ctx.elapsed(), detail })
  }
}

/** Opens a subscription; resolves when it closes. */
function subscribe(
  ctx: ConsumerContext,
  session: Session,
  cursor: number | null,
  onOpen?: (ws: WebSocket) => void,
): { ws: WebSocket; closed: Promise<void> } {
  const q = cursor === null ? '' : `?cursor=${cursor}`
  const ws = new WebSocket(`${ctx.wsUrl}/xrpc/com.atproto.sync.subscribeRepos${q}`)
  ws.on('message', (data: Buffer) => session.take(data))
  ws.on('error', () => {})
  if (onOpen) ws.on('open', () => onOpen(ws))
  const closed = new Promise<void>((resolve) => ws.on('close', () => resolve()))
  return { ws, closed }
}

export abstract class SoakConsumer {
  stopped = false
  received = 0
  connections = 0
  #ws: WebSocket | null = null
  #loop: Promise<void> | null = null
  readonly name: string
  protected readonly ctx: ConsumerContext

  constructor(name: string, ctx: ConsumerContext) {
    this.name = name
    this.ctx = ctx
  }

  start(): void {
    this.#loop = this.run()
  }

  protected abstract run(): Promise<void>

  protected open(
    cursor: number | null,
    onOpen?: (ws: WebSocket) => void,
  ): { session: Session; closed: Promise<void>; ws: WebSocket } {
    const session = new Session(this.name, this.ctx, cursor)
    const { ws, closed } = subscribe(this.ctx, session, cursor, onOpen)
    this.#ws = ws
    this.connections++
    const counted = closed.then(() => {
      this.received += session.received
    })
    return { session, ws, closed: counted }
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.#ws?.terminate()
    await this.#loop
  }
}

export class HonestConsumer extends SoakConsumer {
  last = 0
  /** Closed by the relay (or failed to connect), then came back with a cursor. */
  reconnects = 0
  readonly errors = new Map<string, number>()
  #session: Session | null = null

  get live(): number {
    return this.received + (this.#session?.received ?? 0)
  }

  protected async run(): Promise<void> {
    let cursor: number | null = null
    while (!this.stopped) {
      const { session, closed } = this.open(cursor)
      this.#session = session
      await closed
      this.#session = null
      for (const e of session.errors) this.errors.set(e, (this.errors.get(e) ?? 0) + 1)
      if (session.last !== null) this.last = session.last
      if (this.stopped) break
      this.reconnects++
      cursor = session.last
      await sleep(250)
    }
  }

  /** The highest seq seen so far (including the open connection). */
  get head(): number {
    return Math.max(this.last, this.#session?.last ?? 0)
  }
}

export class ChurnConsumer extends SoakConsumer {
  cycles = 0

  protected async run(): Promise<void> {
    while (!this.stopped) {
      const head = this.ctx.head()
      const cursor = Math.random() < 0.5 || head < 100 ? null : head - 100
      const { ws, closed } = this.open(cursor)
      await within(closed, 300 + Math.random() * 2700)
      if (Math.random() < 0.5) ws.close()
      else ws.terminate()
      await closed
      this.cycles++
      await sleep(100 + Math.random() * 400)
    }
  }
}

export type StuckOutcome = 'too-slow' | 'closed' | 'not-cut'

export class StuckConsumer extends SoakConsumer {
  readonly outcomes = new Map<StuckOutcome, number>()
  readonly holdMs: number

  constructor(name: string, ctx: ConsumerContext, holdMs: number) {
    super(name, ctx)
    this.holdMs = holdMs
  }

  protected async run(): Promise<void> {
    while (!this.stopped) {
      const { ws, session, closed } = this.open(null, (w) => w.pause())
      const held = Date.now()
      while (!this.stopped && Date.now() - held < this.holdMs) await sleep(250)
      if (this.stopped) break
      ws.resume() // what reached us drains, then the close (if the relay cut us off)
      const cut = await within(closed, 10_000)
      if (this.stopped) break
      const outcome: StuckOutcome = !cut
        ? 'not-cut'
        : session.errors.includes('ConsumerTooSlow')
          ? 'too-slow'
          : 'closed'
      this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1)
      if (!cut) {
        ws.terminate()
        await closed
      }
      await sleep(1000)
    }
  }
}

export class ReplayConsumer extends SoakConsumer {
  replays = 0
  /** Replays whose first event was seq 1 (nothing before it retained away). */
  fromOne = 0
  readonly everyMs: number
  readonly maxEvents: number
  readonly maxMs: number

  constructor(
    name: string,
    ctx: ConsumerContext,
    everyMs: number,
    maxEvents: number,
    maxMs: number,
  ) {
    super(name, ctx)
    this.everyMs = everyMs
    this.maxEvents = maxEvents
    this.maxMs = maxMs
  }

  protected async run(): Promise<void> {
    const first = Date.now() + Math.min(this.everyMs, 20_000)
    while (!this.stopped && Date.now() < first) await sleep(250)
    while (!this.stopped) {
      const { ws, session, closed } = this.open(0)
      const began = Date.now()
      while (
        !this.stopped &&
        session.received < this.maxEvents &&
        Date.now() - began < this.maxMs &&
        ws.readyState <= WebSocket.OPEN
      )
        await sleep(100)
      ws.close()
      await within(closed, 5000)
      ws.terminate()
      await closed
      this.replays++
      if (session.firstSeq === 1) this.fromOne++
      const wait = Date.now() + this.everyMs
      while (!this.stopped && Date.now() < wait) await sleep(250)
    }
  }
}
