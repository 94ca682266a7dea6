// The account shards' threads and the messages to and from them (shard-messages.ts), on the
// main thread: starts one worker per shard, gathers each shard's events of one turn into one
// message with the views and slot counts of their hosts that the shard has not seen as they are
// now, sends calls after the events handed in before them and matches their answers, and hands
// every other op to its owner in the order the shard sent them. A thread that ends is marked
// dead: its calls fail at once, and the owner hears of the first loss once.
// With host threads the events do not pass here (they go from host thread to shard); a host's
// view and slot counts are then shared with every shard before its thread may dial it (`share`)
// and again whenever they change.
// Deliberately not here: what the ops mean (account-shards.ts carries them out).

import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads'
import type { MirrorStats } from '../archive/mirror.ts'
import type { RelayConfig } from '../config/config.ts'
import type { HostIngestView } from '../hosts/host-rows.ts'
import type { IngestHosts } from '../ingest/ingest.ts'
import type { HistogramTotals } from '../observability/histogram-counts.ts'
import type { UpstreamEvent } from '../protocol/envelope.ts'
import { EndOfTurn } from '../runtime/end-of-turn.ts'
import { ownBuffer } from '../runtime/own-buffer.ts'
import { ThreadBusyTime } from '../runtime/thread-busy.ts'
import { type ThreadHeap, workerHeaps } from '../runtime/worker-heap.ts'
import { ShardCallError } from './shard-call-error.ts'
import { NO_IDENTITY_COUNTS, type ShardIdentityCounts } from './shard-identity.ts'
import { lendingPeers, ShardLoads } from './shard-load.ts'
import type {
  ArchiveAnswer,
  EventItem,
  FromShard,
  ShardBatch,
  ShardCall,
  ShardMethod,
  ShardMethods,
  ShardOp,
  ShardStart,
  SlotAnswer,
} from './shard-messages.ts'

/** The ops the owner carries out: all but the answers to calls. */
export type OwnerOp = Exclude<ShardOp, readonly ['reply' | 'fail', ...unknown[]]>

export interface ShardThreadsDeps {
  readonly count: number
  readonly config: RelayConfig
  readonly hosts: Pick<IngestHosts, 'ingestView'>
  /** Carries out one op of `shard`, in the order the shard sent them. */
  readonly carryOut: (shard: number, op: OwnerOp) => void
  /** The first shard that ended, once (none after `close` began). */
  readonly onLost: (shard: number, cause: unknown) => void
  /** With host threads: each shard's channels to them (by shard, then by thread; transferred). */
  readonly hostPorts?: readonly (readonly MessagePort[])[]
  /** The shards' backlogs (shard-load.ts), when something else hands them events too. */
  readonly loads?: SharedArrayBuffer
}

/** How long `close` waits for a shard to end before terminating it. */
const CLOSE_WAIT_MS = 10_000

/** What the main thread keeps of one shard. */
interface Shard {
  readonly index: number
  readonly worker: Worker
  readonly ready: Promise<void>
  dead: boolean
  /** Events and host facts to send at the end of this turn. */
  pending: Pending | undefined
  /** Events handed to it so far (a total that does not wrap, unlike the shared count). */
  handed: number
  readonly busy: ThreadBusyTime
  /** The host views and slot counts last sent, to send only what changed. */
  readonly sentViews: Map<number, HostIngestView>
  counts: {
    errors: number
    retries: number
    lent: number
    identity: ShardIdentityCounts
    /** Archival mode: its mirror's totals. */
    mirror?: MirrorStats
    /** With host threads: its events' totals (shard-messages.ts). */
    events?: { received: number; accepted: number; dropped: number; inFlight: number }
  }
  /** Its histograms' totals, the last it sent. */
  histograms: HistogramTotals
}

interface Pending {
  readonly events: EventItem[]
  readonly transfer: ArrayBuffer[]
  readonly views: HostIngestView[]
  readonly slots: SlotAnswer[]
  readonly answers: ArchiveAnswer[]
}

interface Waiting {
  readonly shard: number
  readonly method: ShardMethod
  /** Works out the answer when the reply op is handled (not later: see account-shards.ts). */
  readonly atReply?: () => unknown
  resolve(value: unknown): void
  reject(err: Error): void
}

export class ShardThreads {
  readonly #d: ShardThreadsDeps
  readonly #shards: Shard[] = []
  readonly #waiting = new Map<number, Waiting>()
  #nextCall = 0
  readonly #sends = new EndOfTurn(() => this.#flush())
  #closing = false
  #lost = false
  readonly #loadsMemory: SharedArrayBuffer
  readonly #loads: ShardLoads

  constructor(deps: ShardThreadsDeps) {
    this.#d = deps
    this.#loadsMemory = deps.loads ?? ShardLoads.allocate(deps.count)
    this.#loads = new ShardLoads(this.#loadsMemory)
    // A channel per pair of shards that lend each other verifications, one end to each.
    const peers = Array.from(
      { length: deps.count },
      () => [] as { index: number; port: MessagePort }[],
    )
    for (const [a, b] of lendingPeers(deps.count)) {
      const { port1, port2 } = new MessageChannel()
      peers[a]!.push({ index: b, port: port1 })
      peers[b]!.push({ index: a, port: port2 })
    }
    for (let index = 0; index < deps.count; index++) {
      this.#shards.push(this.#start(index, peers[index]!))
    }
  }

  get count(): number {
    return this.#shards.length
  }

  /** The threads (tests end one to see what follows). */
  get workers(): readonly Worker[] {
    return this.#shards.map((s) => s.worker)
  }

  /** Resolves once every shard has opened its database and listens. */
  async ready(): Promise<void> {
    await Promise.all(this.#shards.map((s) => s.ready))
  }

  /** Each shard's last reported totals (ingest errors and retries, its identity cache, its mirror). */
  counts(): readonly Shard['counts'][] {
    return this.#shards.map((s) => s.counts)
  }

  /** Each live shard's V8 heap (those that answered within a second). */
  heapStatistics(): Promise<ThreadHeap[]> {
    return workerHeaps(this.#shards.filter((s) => !s.dead).map((s) => s.worker))
  }

  /** Per shard, in index order: the events handed to it so far, and the work waiting there now. */
  load(): { events: number; backlog: number }[] {
    return this.#shards.map((s) => ({ events: s.handed, backlog: this.#loads.backlog(s.index) }))
  }

  /** Each shard's histogram totals, the last it sent (a shard that ended keeps its last). */
  histogramTotals(): HistogramTotals[] {
    return this.#shards.map((s) => s.histograms)
  }

  /** Busy milliseconds of every shard's thread (an ended one's as last read: the total never falls). */
  busyMs(): number {
    let ms = 0
    for (const s of this.#shards) ms += s.busy.read(s.dead ? null : s.worker)
    return ms
  }

  /**
   * Queues an event for `shard`, sent at the end of this turn. The frame is the shard's from
   * now on: a frame with a buffer of its own (as upstream hands them over) is transferred, not
   * copied, and reads as empty here afterwards.
   */
  send(shard: number, hostId: number, msg: UpstreamEvent, raw: Uint8Array): void {
    const p = this.hostFacts(shard, hostId)
    const own = ownBuffer(raw)
    p.events.push([hostId, msg, own])
    p.transfer.push(own.buffer)
    this.#sends.queue()
  }

  /** Queues the answer to one of `shard`'s archive writes, sent at the end of this turn. */
  answer(index: number, answer: ArchiveAnswer): void {
    this.#pending(this.#shards[index]!).answers.push(answer)
    this.#sends.queue()
  }

  #pending(shard: Shard): Pending {
    shard.pending ??= { events: [], transfer: [], views: [], slots: [], answers: [] }
    return shard.pending
  }

  /** Queues the answer to one of `shard`'s slot requests, sent at the end of this turn. */
  answerSlot(index: number, answer: SlotAnswer): void {
    this.#pending(this.#shards[index]!).slots.push(answer)
    this.#sends.queue()
  }

  /** Queues `hostId`'s view for `shard` if it changed since the shard last heard it. */
  hostFacts(index: number, hostId: number): Pending {
    const shard = this.#shards[index]!
    const p = this.#pending(shard)
    const view = this.#d.hosts.ingestView(hostId)
    if (view && shard.sentViews.get(hostId) !== view) {
      shard.sentViews.set(hostId, view)
      p.views.push(view)
    }
    return p
  }

  /**
   * Every live shard is to get `hostId`'s view, with what else is sent at the end of this turn
   * or at `sendNow` (host threads: before its thread may dial it, so its first events find it at
   * every shard).
   */
  share(hostId: number): void {
    for (const shard of this.#shards) if (!shard.dead) this.hostFacts(shard.index, hostId)
    this.#sends.queue()
  }

  /** Sends what waits for the end of this turn now. */
  sendNow(): void {
    this.#sends.now()
  }

  /**
   * `hostId`'s view changed: every live shard that holds a copy gets the new one at once, with
   * or without events, so the events of the host already waiting there are judged by it (a ban
   * drops them) rather than by the copy it had. With host threads, whose events do not wait for
   * this thread, at once is the nearest a ban can be to where they are read.
   */
  viewChanged(hostId: number): void {
    for (const shard of this.#shards) {
      if (shard.dead || !shard.sentViews.has(hostId)) continue
      this.hostFacts(shard.index, hostId)
    }
    this.#sends.now()
  }

  /**
   * Calls `method` on a shard, after every event handed in before; `atReply` works out the
   * answer when the reply is handled, in order with the shard's other ops; `transfer` moves
   * those buffers of the arguments instead of copying them.
   */
  call<M extends ShardMethod>(
    index: number,
    method: M,
    opts: { atReply?: () => unknown; transfer?: ArrayBuffer[] },
    ...args: Parameters<ShardMethods[M]>
  ): Promise<unknown> {
    const shard = this.#shards[index]!
    if (shard.dead) {
      return Promise.reject(new ShardCallError(index, method, null, 'the shard ended'))
    }
    this.#sends.now()
    const id = ++this.#nextCall
    return new Promise((resolve, reject) => {
      const { atReply } = opts
      this.#waiting.set(id, { shard: index, method, ...(atReply && { atReply }), resolve, reject })
      shard.worker.postMessage({ call: id, method, args } satisfies ShardCall, opts.transfer ?? [])
    })
  }

  /** Ends every live shard (after its last checkpoint); terminates one that lingers. */
  async close(): Promise<void> {
    this.#closing = true
    await Promise.all(
      this.#shards
        .filter((s) => !s.dead)
        .map(async (s) => {
          const ended = new Promise<'ended'>((r) => s.worker.once('exit', () => r('ended')))
          s.worker.postMessage({ close: true })
          let timer: NodeJS.Timeout | undefined
          const late = new Promise<'late'>((r) => {
            timer = setTimeout(() => r('late'), CLOSE_WAIT_MS)
          })
          if ((await Promise.race([ended, late])) === 'late') await s.worker.terminate()
          clearTimeout(timer)
        }),
    )
  }

  #start(index: number, peers: ShardStart['peers']): Shard {
    const start: ShardStart = {
      index,
      count: this.#d.count,
      config: this.#d.config,
      loads: this.#loadsMemory,
      peers,
      ...(this.#d.hostPorts && { hostPorts: this.#d.hostPorts[index]! }),
    }
    const worker = new Worker(new URL('./shard-worker.ts', import.meta.url), {
      workerData: start,
      transferList: [...peers.map((p) => p.port), ...(start.hostPorts ?? [])],
    })
    worker.unref()
    let ready!: () => void
    let failed!: (err: unknown) => void
    const shard: Shard = {
      index,
      worker,
      ready: new Promise<void>((resolve, reject) => {
        ready = resolve
        failed = reject
      }),
      dead: false,
      handed: 0,
      busy: new ThreadBusyTime(),
      pending: undefined,
      sentViews: new Map(),
      counts: { errors: 0, retries: 0, lent: 0, identity: NO_IDENTITY_COUNTS },
      histograms: {},
    }
    // A start that fails rejects `ready`; one nobody waits for must not be unhandled.
    shard.ready.catch(() => {})
    worker.on('message', (m: FromShard) => {
      if ('ready' in m) return ready()
      const { ops, histograms, ...counts } = m
      shard.counts = counts
      if (histograms) shard.histograms = histograms
      this.#handle(shard, ops)
    })
    worker.once('error', (err) => {
      failed(err)
      this.#died(shard, err)
    })
    worker.once('exit', (code) => {
      const err = new Error(`account shard ${index} exited (${code})`)
      failed(err)
      this.#died(shard, err)
    })
    return shard
  }

  #flush(): void {
    for (const shard of this.#shards) {
      const p = shard.pending
      if (!p) continue
      shard.pending = undefined
      if (shard.dead) continue
      const batch: ShardBatch = {
        events: p.events,
        ...(p.views.length > 0 && { views: p.views }),
        ...(p.slots.length > 0 && { slots: p.slots }),
        ...(p.answers.length > 0 && { answers: p.answers }),
      }
      this.#loads.handed(shard.index, p.events.length)
      shard.handed += p.events.length
      shard.worker.postMessage(batch, p.transfer)
    }
  }

  #handle(shard: Shard, ops: readonly ShardOp[]): void {
    for (const op of ops) {
      if (op[0] !== 'reply' && op[0] !== 'fail') {
        this.#d.carryOut(shard.index, op)
        continue
      }
      const w = this.#waiting.get(op[1])
      if (!w) continue
      this.#waiting.delete(op[1])
      if (op[0] === 'reply') w.resolve(w.atReply ? w.atReply() : op[2])
      else w.reject(new ShardCallError(shard.index, w.method, op[2], op[3]))
    }
  }

  #died(shard: Shard, cause: unknown): void {
    if (shard.dead) return
    shard.dead = true
    for (const [id, w] of this.#waiting) {
      if (w.shard !== shard.index) continue
      this.#waiting.delete(id)
      w.reject(new ShardCallError(shard.index, w.method, null, 'the shard ended'))
    }
    if (this.#closing || this.#lost) return
    this.#lost = true
    this.#d.onLost(shard.index, cause)
  }
}
