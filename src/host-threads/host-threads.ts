// The host threads on the main thread (docs/scaling.md, stage 2), used when the relay has both
// upstream threads and account shards: each known host belongs to thread `id % threads`, which
// runs its link (socket, seq window, flow control, rate limits, cursor: thread-hosts.ts) and
// hands its events straight to the account shards. This side is what the hosts part drives
// (UpstreamLinks): every change of a host is a message to its thread; what the threads report
// goes to host-reports.ts (the main thread's rules, counters, and its copy of the hosts' books,
// which reads are answered from). Before a checkpoint the cursors are asked for again
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
import { EndOfTurn } from '../runtime/end-of-turn.ts'
import { ThreadBusyTime } from '../runtime/thread-busy.ts'
import { ShardLoads } from '../shards/shard-load.ts'
import type { HostTarget, UpstreamTimings } from '../upstream/types.ts'
import { HostReports, type HostReportsDeps } from './host-reports.ts'
import type { HostThreadReport, HostThreadStart, ToHostThread } from './host-thread-messages.ts'

export interface HostThreadsOptions extends HostReportsDeps {
  readonly threads: number
  readonly shards: number
  readonly allowInsecure: boolean
  readonly userAgent: string
  readonly hostConcurrency: number
  readonly timings?: UpstreamTimings
  /** Before a host's first link: every shard is to get its view and counts (its events need them). */
  readonly beforeLink: (hostId: number) => void
  /** Before any dial: what `beforeLink` queued for the shards is sent now, ahead of the events. */
  readonly beforeDial: () => void
  /** The first thread that ended, once (none after `close` began): the relay must stop. */
  readonly onLost: (thread: number, cause: unknown) => void
  /** How often each thread reports its books (default 1 s). */
  readonly booksEveryMs?: number
}

interface Thread {
  readonly index: number
  readonly worker: Worker
  readonly busy: ThreadBusyTime
  dead: boolean
  /** Written this turn: flat (host id, seq) pairs and (host id, seq, dropped) triples. */
  complete: number[]
  settled: number[]
}

export class HostThreads implements UpstreamLinks {
  readonly #o: HostThreadsOptions
  readonly #threads: Thread[] = []
  readonly #reports: HostReports
  /** Calls waiting for their answer, and the thread that owes it. */
  readonly #waiting = new Map<number, { thread: Thread; resolve: (value: unknown) => void }>()
  readonly #timers = new Set<NodeJS.Timeout>()
  /** Each shard's channels to the threads, by shard then thread (for the shards' start). */
  readonly shardPorts: MessagePort[][]
  /** The shards' backlogs, which the threads add to (for the shards' start). */
  readonly loads: SharedArrayBuffer
  #nextCall = 0
  readonly #sends = new EndOfTurn(() => this.#flush())
  #stopped = false
  #closing = false
  #lost = false

  constructor(o: HostThreadsOptions) {
    this.#o = o
    this.#reports = new HostReports(o, Math.max(1, o.threads))
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
    this.#reports.notices = notices
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
    return this.#reports.handed(this.#o.shards)
  }

  get ratePauses(): number {
    return this.#reports.ratePauses
  }

  link(target: HostTarget, storedCursor: number | null): void {
    if (this.#reports.has(target.id)) return
    this.#o.beforeLink(target.id)
    this.#reports.known(target, storedCursor)
    this.#post(target.id, { op: 'link', target, cursor: storedCursor })
  }

  setLimits(hostId: number, limits: HostLimits): void {
    this.#post(hostId, { op: 'limits', id: hostId, limits })
  }

  rates(hostId: number): HostRates {
    return this.#reports.rates(hostId)
  }

  recover(hostId: number, found: { cursor?: number; skips?: ReadonlySet<number> }): void {
    if (!this.#reports.has(hostId)) return
    this.#post(hostId, {
      op: 'recover',
      id: hostId,
      ...(found.cursor !== undefined && { cursor: found.cursor }),
      ...(found.skips && { skips: [...found.skips] }),
    })
  }

  forgetCursor(hostId: number): void {
    if (!this.#reports.has(hostId)) return
    this.#post(hostId, { op: 'forget', id: hostId })
  }

  cursor(hostId: number): number | null {
    return this.#reports.cursor(hostId)
  }

  cursors(): ReadonlyMap<number, number | null> {
    return this.#reports.cursors()
  }

  async refreshCursors(): Promise<void> {
    this.#sends.now()
    await Promise.all(
      this.#threads
        .filter((t) => !t.dead)
        .map((t) => this.#call(t, (call) => ({ op: 'books', call }))),
    )
  }

  connection(hostId: number): LinkConnectionView | undefined {
    return this.#reports.connection(hostId)
  }

  connectedHosts(): number[] {
    return this.#reports.connectedHosts()
  }

  connect(
    hostId: number,
    opts: { skipSeqs?: ReadonlySet<number>; fromLiveHead?: boolean } = {},
  ): void {
    if (this.#stopped || !this.#reports.has(hostId)) return
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
    if (!this.#reports.has(hostId) || thread.dead) return
    // Answered with the books in the same report: read as disconnected once this resolves.
    await this.#call(thread, (call) => ({ op: 'disconnect', id: hostId, call }))
  }

  settled(hostId: number, seq: number, dropped: boolean): void {
    this.#threadOf(hostId).settled.push(hostId, seq, dropped ? 1 : 0)
    this.#sends.queue()
  }

  complete(hostId: number, seq: number): void {
    this.#threadOf(hostId).complete.push(hostId, seq)
    this.#sends.queue()
  }

  async stop(): Promise<void> {
    this.#stopped = true
    for (const t of this.#timers) clearTimeout(t)
    this.#timers.clear()
    this.#sends.now()
    await Promise.all(
      this.#threads
        .filter((t) => !t.dead)
        .map((t) => this.#call(t, (call) => ({ op: 'stop', call }))),
    )
  }

  /** Ends the threads: after the last checkpoint has read their cursors. */
  async close(): Promise<void> {
    this.#closing = true
    this.#sends.now()
    await Promise.all(this.#threads.map((t) => t.worker.terminate()))
  }

  #threadOf(hostId: number): Thread {
    return this.#threads[hostId % this.#threads.length]!
  }

  #post(hostId: number, m: ToHostThread): void {
    const thread = this.#threadOf(hostId)
    // What was written so far goes first: a message after it may read the cursor.
    this.#flushThread(thread)
    // Its first dial: the shards must have every view and count shared so far.
    if (m.op === 'connect') this.#o.beforeDial()
    // A dead thread has stopped the relay (onLost): what it would have done no longer matters.
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

  #flush(): void {
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
    }
    worker.on('message', (r: HostThreadReport) => this.#received(thread, r))
    worker.once('error', (err) => this.#died(thread, err))
    worker.once('exit', (code) =>
      this.#died(thread, new Error(`host thread ${index} exited (${code})`)),
    )
    return thread
  }

  #received(thread: Thread, r: HostThreadReport): void {
    this.#reports.apply(thread.index, r)
    for (const [call, value] of r.answers) {
      const waiting = this.#waiting.get(call)
      this.#waiting.delete(call)
      waiting?.resolve(value)
    }
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
