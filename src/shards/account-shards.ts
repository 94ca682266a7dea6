// The main thread's side of the account shards (docs/scaling.md, stage 1): hands each upstream
// event to the shard its DID hashes to (shard-of.ts), one message per shard per turn, with the
// views and slot counts of the hosts in it that the shard has not seen as they are now; carries
// out what the shards send back, in order (appending to the log, settling host events, counting
// drops and ratchet commits, keeping slot counts, queueing repairs, logging); and offers the
// operations ingest offers on one thread (takedowns, releases, resyncs, account and identity
// reads), each a call to the owning shard. Checkpoints: every shard takes a snapshot, the log
// syncs, every shard writes its snapshot with its own checkpoint seq (account-shard.ts says why
// that seq is right).
// A shard that dies loses the account states it had not written: the relay cannot go on without
// them, so `onLost` is told and the relay ends (a restart recovers them from the log).
// Deliberately not here: what the operations do (ingest/ on the shard), which events exist
// (hosts/), the checkpoint's timing (checkpoint/).
import { Worker } from 'node:worker_threads'
import type { AccountState } from '../accounts/account-state.ts'
import { shardOf } from '../accounts/shard-of.ts'
import type { Takedowns } from '../accounts/takedowns.ts'
import type { RelayConfig } from '../config/config.ts'
import type { AppendInput, LogRecord } from '../eventlog/types.ts'
import type { HostIngestView } from '../hosts/host-rows.ts'
import type { Identity } from '../identity/did-document.ts'
import type { AccountOperations, IdentityOperations } from '../ingest/account-operations.ts'
import type { Drop } from '../ingest/drop-counter.ts'
import type { IngestHosts, IngestStats, ReverseTakedownResult } from '../ingest/ingest.ts'
import type { ResyncInput, ResyncResult } from '../ingest/resynchronize.ts'
import type { IdentitySource } from '../observability/metrics-sources.ts'
import type { UpstreamEvent } from '../protocol/envelope.ts'
import type {
  EventItem,
  FromShard,
  ShardBatch,
  ShardCall,
  ShardMethod,
  ShardMethods,
  ShardOp,
  ShardOps,
  ShardStart,
  SlotItem,
} from './shard-messages.ts'

/**
 * The shards' identity operations (`shards` is read at each call: the composition root builds
 * them after the parts that take these).
 */
export function shardedIdentity(shards: () => AccountShards): IdentityOperations {
  return {
    peek: (did) => shards().peekIdentity(did),
    purge: (did) => shards().purgeIdentity(did),
    resolve: (did) => shards().resolveIdentity(did),
  }
}

export interface AccountShardsDeps {
  readonly count: number
  readonly config: RelayConfig
  readonly hosts: IngestHosts
  readonly log: { readonly lastSeq: number; append(input: AppendInput): LogRecord }
  readonly takedowns: Takedowns
  readonly drops: { record(drop: Drop): void }
  /** The oldest throttled accounts of a host, as stored (after a checkpoint). */
  readonly oldestThrottled: (hostId: number, limit: number) => Promise<readonly string[]>
  /** Runs a checkpoint (which calls `checkpoint` below) and waits for it. */
  readonly flushAccounts: () => Promise<void>
  readonly onDesynchronized: (did: string, hostId: number) => void
  readonly onError: (level: 'warn' | 'error', message: string, context: object) => void
  /** A shard died or could not start: the relay cannot go on. */
  readonly onLost: (shard: number, cause: unknown) => void
  readonly logger?: { info(obj: object, msg: string): void }
}

/** A call a shard failed: the message is the shard's error's. */
export class ShardCallError extends Error {
  override readonly name = 'ShardCallError'
  readonly shard: number
  readonly method: ShardMethod

  constructor(shard: number, method: ShardMethod, message: string) {
    super(`account shard ${shard}, ${method}: ${message}`)
    this.shard = shard
    this.method = method
  }
}

const NO_IDENTITY_COUNTS: ShardOps['identity'] = {
  hits: 0,
  negativeHits: 0,
  misses: 0,
  coalesced: 0,
  staleServed: 0,
  errors: 0,
  notFound: 0,
  busy: 0,
  evictions: 0,
  entries: 0,
  running: 0,
  queued: 0,
}

/** At most this many throttled accounts are released per raised limit (as ingest does). */
const MAX_RELEASE = 10_000

interface Pending {
  events: EventItem[]
  transfer: ArrayBuffer[]
  views: HostIngestView[]
  slots: SlotItem[]
}

interface Waiting {
  readonly shard: number
  readonly method: ShardMethod
  resolve(value: unknown): void
  reject(err: Error): void
}

export class AccountShards implements AccountOperations {
  readonly #d: AccountShardsDeps
  readonly #workers: Worker[] = []
  readonly #ready: Promise<void>[] = []
  /** Per shard: the host views and slots last sent, to send only what changed. */
  readonly #sentViews: Map<number, HostIngestView>[] = []
  readonly #sentSlots: Map<number, string>[] = []
  readonly #pending: (Pending | undefined)[] = []
  readonly #counts: Pick<ShardOps, 'errors' | 'retries' | 'identity'>[] = []
  readonly #waiting = new Map<number, Waiting>()
  #nextCall = 0
  #flushQueued = false
  #closing = false
  readonly #stats = { received: 0, accepted: 0, dropped: 0, inFlight: 0 }

  constructor(deps: AccountShardsDeps) {
    this.#d = deps
    for (let i = 0; i < deps.count; i++) {
      const start: ShardStart = { index: i, count: deps.count, config: deps.config }
      const worker = new Worker(new URL('./shard-worker.ts', import.meta.url), {
        workerData: start,
      })
      worker.unref()
      this.#ready.push(
        new Promise((resolve, reject) => {
          worker.on('message', (m: FromShard) => {
            if ('ready' in m) return resolve()
            this.#counts[i] = m
            this.#carryOut(i, m.ops)
          })
          worker.once('error', (err) => {
            reject(err)
            this.#lost(i, err)
          })
          worker.once('exit', (code) => {
            if (!this.#closing) this.#lost(i, new Error(`account shard ${i} exited (${code})`))
          })
        }),
      )
      this.#workers.push(worker)
      this.#sentViews.push(new Map())
      this.#sentSlots.push(new Map())
      this.#pending.push(undefined)
      this.#counts.push({ errors: 0, retries: 0, identity: NO_IDENTITY_COUNTS })
    }
  }

  get count(): number {
    return this.#workers.length
  }

  /** Busy milliseconds of every shard's thread, for the metrics and the dashboard. */
  busyMs(): number {
    let ms = 0
    for (const w of this.#workers) {
      const { idle, active } = w.performance.eventLoopUtilization()
      // An ended thread reads idle -1 and its whole life as active: not a reading.
      if (idle >= 0) ms += active
    }
    return ms
  }

  /**
   * The shards' identity caches together, as the metrics read one cache: its counters are live
   * (the metrics keep the object and read its fields at each scrape).
   */
  identitySource(): IdentitySource {
    const total = (key: keyof ShardOps['identity']) =>
      this.#counts.reduce((n, c) => n + c.identity[key], 0)
    const counters = {} as Record<keyof IdentitySource['counters'], number>
    for (const key of Object.keys(NO_IDENTITY_COUNTS) as (keyof ShardOps['identity'])[]) {
      Object.defineProperty(counters, key, { enumerable: true, get: () => total(key) })
    }
    return {
      counters,
      gauges: () => ({
        entries: total('entries'),
        running: total('running'),
        queued: total('queued'),
      }),
    }
  }

  /** Resolves once every shard has opened its database and listens. */
  async ready(): Promise<void> {
    await Promise.all(this.#ready)
  }

  /** Ingest's counts over every shard. */
  get stats(): IngestStats {
    let errors = 0
    let retries = 0
    for (const c of this.#counts) {
      errors += c.errors
      retries += c.retries
    }
    return { ...this.#stats, errors, retries }
  }

  handle(hostId: number, msg: UpstreamEvent, raw: Uint8Array): void {
    this.#stats.received++
    this.#stats.inFlight++
    const i = shardOf(msg.did, this.#workers.length)
    let p = this.#pending[i]
    if (!p) {
      p = { events: [], transfer: [], views: [], slots: [] }
      this.#pending[i] = p
    }
    // A buffer of its own to transfer: the frame may be a view into a larger read.
    const own = raw.slice()
    p.events.push([hostId, msg, own])
    p.transfer.push(own.buffer)
    const view = this.#d.hosts.ingestView(hostId)
    const sentViews = this.#sentViews[i]!
    if (view && sentViews.get(hostId) !== view) {
      sentViews.set(hostId, view)
      p.views.push(view)
    }
    const slots = this.#d.hosts.accountSlots(hostId)
    if (slots) {
      const key = `${slots.count}/${slots.limit}`
      const sentSlots = this.#sentSlots[i]!
      if (sentSlots.get(hostId) !== key) {
        sentSlots.set(hostId, key)
        p.slots.push([hostId, slots.count, slots.limit])
      }
    }
    this.#queueFlush()
  }

  /** A checkpoint of every shard's accounts; `sync` makes the log durable in between. */
  async checkpoint(sync: () => Promise<void>): Promise<number> {
    const shards = this.#workers.map((_, i) => i)
    // Each answer arrives after the shard's records appended before its snapshot: the log's
    // last seq then covers them all, and none appended after it.
    const taken = await Promise.allSettled(
      shards.map((i) => this.#call(i, 'snapshot').then(() => this.#d.log.lastSeq)),
    )
    const seqs = taken.map((t) => (t.status === 'fulfilled' ? t.value : 0))
    try {
      const failed = taken.find((t) => t.status === 'rejected')
      if (failed) throw failed.reason
      await sync()
    } catch (err) {
      // Nothing written: every shard keeps its states for the next checkpoint.
      await Promise.allSettled(shards.map((i) => this.#call(i, 'restore')))
      throw err
    }
    const written = await Promise.all(shards.map((i) => this.#call(i, 'save', seqs[i]!)))
    return written.reduce((a, b) => a + b, 0)
  }

  async takeDown(did: string): Promise<boolean> {
    // Hidden first, so nothing of it is served while the change waits for its turn.
    this.#d.takedowns.add(did)
    const done = await this.#callFor(did, 'takeDown', did)
    if (!done) this.#d.takedowns.delete(did)
    return done
  }

  async reverseTakedown(did: string): Promise<ReverseTakedownResult> {
    const result = await this.#callFor(did, 'reverseTakedown', did)
    if (result === 'reversed') this.#d.takedowns.delete(did)
    return result
  }

  /** After a host's account limit was raised: releases up to `slots` throttled accounts. */
  async releaseThrottled(hostId: number, slots: number): Promise<number> {
    if (slots <= 0) return 0
    await this.#d.flushAccounts()
    const dids = await this.#d.oldestThrottled(hostId, Math.min(slots, MAX_RELEASE))
    let n = 0
    for (const did of dids) if (await this.#callFor(did, 'release', did)) n++
    this.#d.logger?.info(
      { hostId, unthrottled: n },
      'account limit raised: oldest throttled accounts released',
    )
    return n
  }

  resynchronize(
    did: string,
    input: ResyncInput,
  ): Promise<{ result: ResyncResult; state: AccountState | undefined }> {
    return this.#callFor(did, 'resynchronize', did, input)
  }

  /** The account's state as its shard has it now (written or not). */
  account(did: string): Promise<AccountState | undefined> {
    return this.#callFor(did, 'account', did)
  }

  peekIdentity(did: string): Promise<Identity | undefined> {
    return this.#callFor(did, 'peekIdentity', did)
  }

  purgeIdentity(did: string): Promise<void> {
    return this.#callFor(did, 'purgeIdentity', did)
  }

  resolveIdentity(did: string): Promise<{ identity: Identity; stale: boolean }> {
    return this.#callFor(did, 'resolveIdentity', did)
  }

  /** Events waiting for the database stop waiting (ingest's `stop`), in every shard. */
  async stop(): Promise<void> {
    await Promise.all(this.#workers.map((_, i) => this.#call(i, 'stop')))
  }

  /** Resolves when every shard has settled what it was given, or after `timeoutMs`. */
  async idle(timeoutMs: number): Promise<void> {
    await Promise.all(this.#workers.map((_, i) => this.#call(i, 'idle', timeoutMs)))
  }

  /** Ends every shard (after `idle` and the last checkpoint). */
  async close(): Promise<void> {
    this.#closing = true
    await Promise.all(
      this.#workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            w.once('exit', () => resolve())
            w.postMessage({ close: true })
          }),
      ),
    )
  }

  #callFor<M extends ShardMethod>(
    did: string,
    method: M,
    ...args: Parameters<ShardMethods[M]>
  ): Promise<Awaited<ReturnType<ShardMethods[M]>>> {
    return this.#call(shardOf(did, this.#workers.length), method, ...args)
  }

  #call<M extends ShardMethod>(
    shard: number,
    method: M,
    ...args: Parameters<ShardMethods[M]>
  ): Promise<Awaited<ReturnType<ShardMethods[M]>>> {
    // Events handed in before the call go first, so the call runs after them.
    this.#flush()
    const id = ++this.#nextCall
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, {
        shard,
        method,
        resolve: resolve as (v: unknown) => void,
        reject,
      })
      this.#workers[shard]!.postMessage({ call: id, method, args } satisfies ShardCall)
    })
  }

  #queueFlush(): void {
    if (this.#flushQueued) return
    this.#flushQueued = true
    setImmediate(() => this.#flush())
  }

  #flush(): void {
    this.#flushQueued = false
    for (let i = 0; i < this.#workers.length; i++) {
      const p = this.#pending[i]
      if (!p) continue
      this.#pending[i] = undefined
      const batch: ShardBatch = {
        events: p.events,
        ...(p.views.length > 0 && { views: p.views }),
        ...(p.slots.length > 0 && { slots: p.slots }),
      }
      this.#workers[i]!.postMessage(batch, p.transfer)
    }
  }

  #carryOut(shard: number, ops: readonly ShardOp[]): void {
    const d = this.#d
    for (const op of ops) {
      switch (op[0]) {
        case 'append': {
          const [, hostId, upstreamSeq, did, type, prefix, suffix, note] = op
          d.log.append({
            frame: { type, prefix, suffix },
            hostId,
            upstreamSeq,
            did,
            ...(note !== undefined && { note }),
          })
          this.#stats.accepted++
          break
        }
        case 'settled':
          d.hosts.settled(op[1], op[2], op[3])
          this.#stats.inFlight--
          break
        case 'drop':
          d.drops.record(op[1])
          this.#stats.dropped++
          break
        case 'commit':
          d.hosts.commitAccepted(op[1], op[2])
          break
        case 'count':
          d.hosts.adjustAccountCount(op[1], op[2])
          break
        case 'desync':
          d.onDesynchronized(op[1], op[2])
          break
        case 'error':
          d.onError(op[1], op[2], { shard, ...op[3] })
          break
        case 'reply':
        case 'fail': {
          const w = this.#waiting.get(op[1])
          if (!w) break
          this.#waiting.delete(op[1])
          if (op[0] === 'reply') w.resolve(op[2])
          else w.reject(new ShardCallError(shard, w.method, op[2]))
          break
        }
      }
    }
  }

  #lost(shard: number, cause: unknown): void {
    for (const [id, w] of this.#waiting) {
      if (w.shard !== shard) continue
      this.#waiting.delete(id)
      w.reject(new ShardCallError(shard, w.method, 'the shard ended'))
    }
    this.#d.onLost(shard, cause)
  }
}
