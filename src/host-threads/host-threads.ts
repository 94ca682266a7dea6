// The host threads on the main thread (docs/scaling.md, stage 2), used when the relay has both
// upstream threads and account shards: each known host belongs to thread `id % threads`, which
// runs its link (socket, seq window, flow control, rate limits, cursor: thread-hosts.ts) and
// hands its events straight to the account shards. This side is what the hosts part drives
// (UpstreamLinks): every change of a host is a message to its thread; what the threads report
// is handed to the main thread's rules (hosts/link-notices.ts), the drop counter and the
// event-type counts; and the hosts' books they send every second (cursors, connections, rates)
// are what it answers reads with. Before a checkpoint the cursors are asked for again
// (`refreshCursors`), after the log's written seqs: a copy only ever lags, so a stored cursor
// never passes an event the log has not written.
// Once per turn each thread is told which of its hosts' events the log has written.
// A host thread that dies takes its hosts' windows and cursors with it: like an account shard's
// death, the relay stops (`onLost`), and a restart resumes every host from its stored cursor,
// skipping what the log already holds.
// Deliberately not here: the links (hosts/host-links.ts, run by each thread), why a host is
// connected (hosts.ts).
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads'
import { connectSpread } from '../hosts/host-links.ts'
import type { LinkNotices } from '../hosts/link-notices.ts'
import type { HostLimits, HostRates } from '../hosts/rate-limit.ts'
import type { LinkConnectionView, UpstreamLinks } from '../hosts/upstream-links.ts'
import { EVENT_TYPES } from '../observability/event-type-counter.ts'
import type { DropReason } from '../protocol/drop-reasons.ts'
import { ThreadBusyTime } from '../runtime/thread-busy.ts'
import { ShardLoads } from '../shards/shard-load.ts'
import type { HostTarget, UpstreamTimings } from '../upstream/types.ts'
import type {
  HostBook,
  HostBooks,
  HostNote,
  HostThreadReport,
  HostThreadStart,
  ToHostThread,
} from './host-thread-messages.ts'

export interface HostThreadsOptions {
  readonly threads: number
  readonly shards: number
  readonly allowInsecure: boolean
  readonly userAgent: string
  readonly hostConcurrency: number
  readonly timings?: UpstreamTimings
  /** Before a host's first link: every shard gets its view and counts (its events need them). */
  readonly beforeLink: (hostId: number) => void
  /** An event or frame a link dropped (already complete for its cursor). */
  readonly onDrop: (
    hostId: number,
    reason: DropReason,
    seq: number | undefined,
    detail: string,
  ) => void
  readonly eventTypes?: { add(hostId: number, type: string, n: number): void }
  /** What a thread logged (a connection that failed to stop). */
  readonly logger: { error(obj: object, msg: string): void }
  /** The first thread that ended, once (none after `close` began): the relay must stop. */
  readonly onLost: (thread: number, cause: unknown) => void
  /** How often each thread reports its books (default 1 s). */
  readonly booksEveryMs?: number
}

const NO_RATES: HostRates = { perSecond: 0, perHour: 0, perDay: 0 }

interface Thread {
  readonly index: number
  readonly worker: Worker
  readonly busy: ThreadBusyTime
  dead: boolean
  /** Written this turn: flat (host id, seq) pairs and (host id, seq, dropped) triples. */
  complete: number[]
  settled: number[]
  handed: readonly number[]
  ratePauses: number
}

interface Known {
  readonly target: HostTarget
  book: HostBook
}

export class HostThreads implements UpstreamLinks {
  readonly #o: HostThreadsOptions
  readonly #threads: Thread[] = []
  readonly #known = new Map<number, Known>()
  /** Calls waiting for their answer, and the thread that owes it. */
  readonly #waiting = new Map<number, { thread: Thread; resolve: (value: unknown) => void }>()
  readonly #timers = new Set<NodeJS.Timeout>()
  /** Each shard's channels to the threads, by shard then thread (for the shards' start). */
  readonly shardPorts: MessagePort[][]
  /** The shards' backlogs, which the threads add to (for the shards' start). */
  readonly loads: SharedArrayBuffer
  #notices: LinkNotices | undefined
  #nextCall = 0
  #flushQueued = false
  #stopped = false
  #closing = false
  #lost = false

  constructor(o: HostThreadsOptions) {
    this.#o = o
    this.loads = ShardLoads.allocate(o.shards)
    this.shardPorts = Array.from({ length: o.shards }, () => [])
    for (let index = 0; index < Math.max(1, o.threads); index++) {
      const ports: MessagePort[] = []
      for (let shard = 0; shard < o.shards; shard++) {
        const { port1, port2 } = new MessageChannel()
        ports.push(port1)
        this.shardPorts[shard]!.push(port2)
      }
      this.#threads.push(this.#start(index, ports))
    }
  }

  /** The links for the hosts part, reporting to its notices. */
  attach(notices: LinkNotices): UpstreamLinks {
    this.#notices = notices
    return this
  }

  get size(): number {
    return this.#threads.length
  }

  /** The threads (tests end one to see what follows). */
  get workers(): readonly Worker[] {
    return this.#threads.map((t) => t.worker)
  }

  /** Threads are not replaced (the relay stops when one ends). */
  get restarts(): number {
    return 0
  }

  /** Host threads never wait for the main thread (events do not pass it). */
  get stalls(): number {
    return 0
  }

  get waitingBytes(): number {
    return 0
  }

  busyMs(): number {
    let ms = 0
    for (const t of this.#threads) ms += t.busy.read(t.dead ? null : t.worker)
    return ms
  }

  /** Events the threads handed each shard so far, by shard index (as last reported). */
  handed(): number[] {
    const out = Array.from({ length: this.#o.shards }, () => 0)
    for (const t of this.#threads) {
      t.handed.forEach((n, i) => {
        out[i]! += n
      })
    }
    return out
  }

  get ratePauses(): number {
    let n = 0
    for (const t of this.#threads) n += t.ratePauses
    return n
  }

  link(target: HostTarget, storedCursor: number | null): void {
    if (this.#known.has(target.id)) return
    this.#o.beforeLink(target.id)
    this.#known.set(target.id, {
      target,
      book: { id: target.id, cursor: storedCursor, connection: null, rates: NO_RATES },
    })
    this.#post(target.id, { op: 'link', target, cursor: storedCursor })
  }

  setLimits(hostId: number, limits: HostLimits): void {
    this.#post(hostId, { op: 'limits', id: hostId, limits })
  }

  rates(hostId: number): HostRates {
    return this.#known.get(hostId)?.book.rates ?? NO_RATES
  }

  recover(hostId: number, found: { cursor?: number; skips?: ReadonlySet<number> }): void {
    if (!this.#known.has(hostId)) return
    this.#post(hostId, {
      op: 'recover',
      id: hostId,
      ...(found.cursor !== undefined && { cursor: found.cursor }),
      ...(found.skips && { skips: [...found.skips] }),
    })
  }

  forgetCursor(hostId: number): void {
    const known = this.#known.get(hostId)
    if (!known) return
    known.book = { ...known.book, cursor: null }
    this.#post(hostId, { op: 'forget', id: hostId })
  }

  cursor(hostId: number): number | null {
    return this.#known.get(hostId)?.book.cursor ?? null
  }

  cursors(): ReadonlyMap<number, number | null> {
    const out = new Map<number, number | null>()
    for (const [id, k] of this.#known) out.set(id, k.book.cursor)
    return out
  }

  async refreshCursors(): Promise<void> {
    this.#flush()
    await Promise.all(
      this.#threads
        .filter((t) => !t.dead)
        .map((t) => this.#call(t, (call) => ({ op: 'books', call }))),
    )
  }

  connection(hostId: number): LinkConnectionView | undefined {
    return this.#known.get(hostId)?.book.connection ?? undefined
  }

  connectedHosts(): number[] {
    const out: number[] = []
    for (const [id, k] of this.#known) if (k.book.connection?.connected) out.push(id)
    return out
  }

  connect(
    hostId: number,
    opts: { skipSeqs?: ReadonlySet<number>; fromLiveHead?: boolean } = {},
  ): void {
    if (this.#stopped || !this.#known.has(hostId)) return
    this.#post(hostId, {
      op: 'connect',
      id: hostId,
      ...(opts.skipSeqs && { skips: [...opts.skipSeqs] }),
      ...(opts.fromLiveHead && { fromLiveHead: true }),
    })
  }

  connectAll(
    hostIds: readonly number[],
    spreadMs: number,
    stillWanted: (hostId: number) => boolean = () => true,
  ): void {
    connectSpread(hostIds, spreadMs, stillWanted, (id) => this.connect(id), this.#timers)
  }

  async disconnect(hostId: number): Promise<void> {
    const thread = this.#threadOf(hostId)
    if (!this.#known.has(hostId) || thread.dead) return
    const book = (await this.#call(thread, (call) => ({ op: 'disconnect', id: hostId, call }))) as
      | HostBook
      | undefined
    const known = this.#known.get(hostId)
    if (known && book) known.book = book
  }

  settled(hostId: number, seq: number, dropped: boolean): void {
    this.#threadOf(hostId).settled.push(hostId, seq, dropped ? 1 : 0)
    this.#queueFlush()
  }

  complete(hostId: number, seq: number): void {
    this.#threadOf(hostId).complete.push(hostId, seq)
    this.#queueFlush()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    this.#flush()
    await Promise.all(
      this.#threads
        .filter((t) => !t.dead)
        .map((t) => this.#call(t, (call) => ({ op: 'stop', call }))),
    )
  }

  /** Ends the threads: after the last checkpoint has read their cursors. */
  async close(): Promise<void> {
    this.#closing = true
    this.#flush()
    await Promise.all(this.#threads.map((t) => t.worker.terminate()))
  }

  #threadOf(hostId: number): Thread {
    return this.#threads[hostId % this.#threads.length]!
  }

  #post(hostId: number, m: ToHostThread): void {
    const thread = this.#threadOf(hostId)
    // What was written so far goes first: a message after it may read the cursor.
    this.#flushThread(thread)
    if (!thread.dead) thread.worker.postMessage(m)
  }

  #call(thread: Thread, message: (call: number) => ToHostThread): Promise<unknown> {
    if (thread.dead) return Promise.resolve(undefined)
    const call = ++this.#nextCall
    return new Promise((resolve) => {
      this.#waiting.set(call, { thread, resolve })
      thread.worker.postMessage(message(call))
    })
  }

  #queueFlush(): void {
    if (this.#flushQueued) return
    this.#flushQueued = true
    setImmediate(() => this.#flush())
  }

  #flush(): void {
    this.#flushQueued = false
    for (const t of this.#threads) this.#flushThread(t)
  }

  #flushThread(t: Thread): void {
    if (t.complete.length === 0 && t.settled.length === 0) return
    const m: ToHostThread = { op: 'written', complete: t.complete, settled: t.settled }
    t.complete = []
    t.settled = []
    if (!t.dead) t.worker.postMessage(m)
  }

  #start(index: number, shardPorts: MessagePort[]): Thread {
    const start: HostThreadStart = {
      index,
      allowInsecure: this.#o.allowInsecure,
      userAgent: this.#o.userAgent,
      hostConcurrency: this.#o.hostConcurrency,
      ...(this.#o.timings && { timings: this.#o.timings }),
      loads: this.loads,
      shardPorts,
      booksEveryMs: this.#o.booksEveryMs ?? 1_000,
    }
    const worker = new Worker(new URL('./host-worker.ts', import.meta.url), {
      workerData: start,
      transferList: shardPorts,
      // The OS thread's name too: per-thread CPU (top -H, the load generator) shows it.
      name: 'upstream',
    })
    worker.unref()
    const thread: Thread = {
      index,
      worker,
      busy: new ThreadBusyTime(),
      dead: false,
      complete: [],
      settled: [],
      handed: [],
      ratePauses: 0,
    }
    worker.on('message', (r: HostThreadReport) => this.#received(thread, r))
    worker.once('error', (err) => this.#died(thread, err))
    worker.once('exit', (code) =>
      this.#died(thread, new Error(`host thread ${index} exited (${code})`)),
    )
    return thread
  }

  #received(thread: Thread, r: HostThreadReport): void {
    if (r.books) this.#books(thread, r.books)
    for (const note of r.notes) this.#apply(note)
    for (const [call, value] of r.answers) {
      const waiting = this.#waiting.get(call)
      this.#waiting.delete(call)
      waiting?.resolve(value)
    }
  }

  #books(thread: Thread, books: HostBooks): void {
    for (const book of books.hosts) {
      const known = this.#known.get(book.id)
      if (known) known.book = book
    }
    thread.handed = books.handed
    thread.ratePauses = books.ratePauses
    for (const id of books.arrived) this.#notices?.eventsArrived(id)
    const types = books.types
    for (let i = 0; i < types.length; i += 3) {
      this.#o.eventTypes?.add(types[i]!, EVENT_TYPES[types[i + 1]!]!, types[i + 2]!)
    }
  }

  #apply(note: HostNote): void {
    const notices = this.#notices
    switch (note[0]) {
      case 'drop':
        this.#o.onDrop(note[1], note[2], note[3], note[4])
        return
      case 'log':
        this.#o.logger.error(note[2], note[1])
        return
      case 'limited':
        notices?.rateLimited(note[1], note[2])
        return
      case 'ok':
        notices?.rateOk(note[1])
        return
    }
    const target = this.#known.get(note[1])?.target
    if (!target || !notices) return
    if (note[0] === 'state') notices.stateChange(target, note[2], note[3])
    else if (note[0] === 'info') notices.info(target, note[2], note[3])
    else notices.upstreamError(target, note[2], note[3])
  }

  #died(thread: Thread, cause: unknown): void {
    if (thread.dead) return
    thread.dead = true
    // Its calls are answered with nothing: a stop or a checkpoint must not wait for ever.
    for (const [call, w] of this.#waiting) {
      if (w.thread !== thread) continue
      this.#waiting.delete(call)
      w.resolve(undefined)
    }
    if (this.#closing || this.#lost) return
    this.#lost = true
    this.#o.onLost(thread.index, cause)
  }
}
