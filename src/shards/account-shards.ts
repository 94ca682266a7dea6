// The main thread's side of the account shards (docs/scaling.md, stage 1): hands each upstream
// event to the shard its DID hashes to (accounts/shard-of.ts), one message per shard per turn,
// with the views and slot counts of the hosts in it that the shard has not seen as they are
// now; carries out what the shards send back, in order (appending to the log, settling host
// events, counting drops and ratchet commits, keeping slot counts, queueing repairs, logging);
// and offers the operations ingest offers on one thread (takedowns, releases, resyncs, account
// and identity reads), each a call to the owning shard, sent after the events handed in before
// it. Checkpoints: every shard takes a snapshot, the log syncs, every shard writes its snapshot
// with its own checkpoint seq (account-shard.ts says why that seq is right).
// A shard that dies loses the account states it had not written: the relay cannot go on without
// them, so `onLost` is told once and the relay stops (a restart recovers them from the log);
// calls to it fail at once from then on.
// Deliberately not here: what the operations do (ingest/, run on the shard), which events exist
// (hosts/), the checkpoint's timing (checkpoint/).
import { Worker } from 'node:worker_threads'
import type { AccountState } from '../accounts/account-state.ts'
import { shardOf } from '../accounts/shard-of.ts'
import type { Takedowns } from '../accounts/takedowns.ts'
import type { RelayConfig } from '../config/config.ts'
import type { AppendInput, LogRecord } from '../eventlog/types.ts'
import type { HostIngestView } from '../hosts/host-rows.ts'
import type { Identity } from '../identity/did-document.ts'
import type { AccountOperations } from '../ingest/account-operations.ts'
import type { Drop } from '../ingest/drop-counter.ts'
import type { IngestHosts, IngestStats, ReverseTakedownResult } from '../ingest/ingest.ts'
import type { ResyncInput, ResyncResult } from '../ingest/resynchronize.ts'
import type { IdentitySource } from '../observability/metrics-sources.ts'
import type { UpstreamEvent } from '../protocol/envelope.ts'
import { ShardCallError } from './shard-call-error.ts'
import {
  NO_IDENTITY_COUNTS,
  type ShardIdentityCounts,
  shardIdentitySource,
} from './shard-identity.ts'
import type {
  EventItem,
  FromShard,
  ShardBatch,
  ShardCall,
  ShardMethod,
  ShardMethods,
  ShardOp,
  ShardStart,
  SlotItem,
} from './shard-messages.ts'

export { ShardCallError } from './shard-call-error.ts'

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
  readonly onError: (level: 'warn' | 'error', error: string, context: object) => void
  /** A shard died or could not start (once, for the first): the relay cannot go on. */
  readonly onLost: (shard: number, cause: unknown) => void
  readonly logger?: { info(obj: object, msg: string): void }
}

/** At most this many throttled accounts are released per raised limit (as ingest does). */
const MAX_RELEASE = 10_000
/** How long `close` waits for a shard to end before terminating it. */
const CLOSE_WAIT_MS = 10_000

/** What one shard thread has, as the main thread keeps it. */
interface Shard {
  readonly index: number
  readonly worker: Worker
  dead: boolean
  /** Events and host facts to send at the end of this turn. */
  pending:
    | { events: EventItem[]; transfer: ArrayBuffer[]; views: HostIngestView[]; slots: SlotItem[] }
    | undefined
  /** The host views and slot counts last sent, to send only what changed. */
  readonly sentViews: Map<number, HostIngestView>
  readonly sentSlots: Map<number, string>
  /** Per host, the sum of the count changes this shard sent that the hosts part has applied. */
  readonly applied: Map<number, number>
  counts: { errors: number; retries: number; identity: ShardIdentityCounts }
}

interface Waiting {
  readonly shard: number
  readonly method: ShardMethod
  /** Works out the answer when the reply op is carried out (not later: see `checkpoint`). */
  readonly atReply?: () => unknown
  resolve(value: unknown): void
  reject(err: Error): void
}

export class AccountShards implements AccountOperations {
  readonly #d: AccountShardsDeps
  readonly #shards: Shard[] = []
  readonly #ready: Promise<void>[] = []
  readonly #waiting = new Map<number, Waiting>()
  #nextCall = 0
  #flushQueued = false
  #closing = false
  #lost = false
  readonly #stats = { received: 0, accepted: 0, dropped: 0, inFlight: 0, errors: 0 }

  constructor(deps: AccountShardsDeps) {
    this.#d = deps
    for (let i = 0; i < deps.count; i++) {
      const start: ShardStart = { index: i, count: deps.count, config: deps.config }
      const worker = new Worker(new URL('./shard-worker.ts', import.meta.url), {
        workerData: start,
      })
      worker.unref()
      const shard: Shard = {
        index: i,
        worker,
        dead: false,
        pending: undefined,
        sentViews: new Map(),
        sentSlots: new Map(),
        applied: new Map(),
        counts: { errors: 0, retries: 0, identity: NO_IDENTITY_COUNTS },
      }
      this.#shards.push(shard)
      this.#ready.push(
        new Promise((resolve, reject) => {
          worker.on('message', (m: FromShard) => {
            if ('ready' in m) return resolve()
            shard.counts = m
            this.#carryOut(shard, m.ops)
          })
          worker.once('error', (err) => {
            reject(err)
            this.#died(shard, err)
          })
          worker.once('exit', (code) => {
            const err = new Error(`account shard ${i} exited (${code})`)
            reject(err)
            this.#died(shard, err)
          })
        }),
      )
    }
  }

  get count(): number {
    return this.#shards.length
  }

  /** The shards' threads (tests end one to see the relay stop). */
  get threads(): readonly Worker[] {
    return this.#shards.map((s) => s.worker)
  }

  /** Resolves once every shard has opened its database and listens. */
  async ready(): Promise<void> {
    await Promise.all(this.#ready)
  }

  /** Ingest's counts over every shard. */
  get stats(): IngestStats {
    let { errors } = this.#stats
    let retries = 0
    for (const s of this.#shards) {
      errors += s.counts.errors
      retries += s.counts.retries
    }
    return { ...this.#stats, errors, retries }
  }

  /** Busy milliseconds of every shard's thread, for the metrics and the dashboard. */
  busyMs(): number {
    let ms = 0
    for (const s of this.#shards) {
      const { idle, active } = s.worker.performance.eventLoopUtilization()
      // An ended thread reads idle -1 and its whole life as active: not a reading.
      if (idle >= 0) ms += active
    }
    return ms
  }

  /** The shards' identity caches together, as the metrics read one cache. */
  identitySource(): IdentitySource {
    return shardIdentitySource(() => this.#shards.map((s) => s.counts.identity))
  }

  handle(hostId: number, msg: UpstreamEvent, raw: Uint8Array): void {
    this.#stats.received++
    this.#stats.inFlight++
    const shard = this.#shards[shardOf(msg.did, this.#shards.length)]!
    const p = this.#hostFacts(shard, hostId)
    // A buffer of its own to transfer: the frame may be a view into a larger read.
    const own = raw.slice()
    p.events.push([hostId, msg, own])
    p.transfer.push(own.buffer)
    this.#queueFlush()
  }

  /** A checkpoint of every shard's accounts; `sync` makes the log durable in between. */
  async checkpoint(sync: () => Promise<void>): Promise<number> {
    const all = this.#shards.map((s) => s.index)
    // Each answer is carried out after the shard's records appended before its snapshot and
    // before any appended after it: the log's last seq at that moment covers exactly the
    // shard's records in the snapshot.
    const taken = await Promise.allSettled(
      all.map((i) => this.#call(i, 'snapshot', { atReply: () => this.#d.log.lastSeq })),
    )
    try {
      const failed = taken.find((t) => t.status === 'rejected')
      if (failed) throw failed.reason
      await sync()
    } catch (err) {
      // Nothing written: every shard keeps its states for the next checkpoint.
      await Promise.allSettled(all.map((i) => this.#call(i, 'restore')))
      throw err
    }
    const seqs = taken.map((t) => (t.status === 'fulfilled' ? (t.value as number) : 0))
    // Every save ends before this checkpoint does, so the next one's snapshots never overlap
    // a save still running (a failed save puts its states back, and must not put back older
    // states than a later snapshot took).
    const saved = await Promise.allSettled(all.map((i) => this.#call(i, 'save', {}, seqs[i]!)))
    let written = 0
    for (const s of saved) {
      if (s.status === 'rejected') throw s.reason
      written += s.value as number
    }
    return written
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
    // A new account takes a slot of its host: the shard needs the host's view and counts.
    this.#hostFacts(this.#shards[shardOf(did, this.#shards.length)]!, input.hostId)
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

  /** Events waiting for the database stop waiting (ingest's `stop`), in every live shard. */
  async stop(): Promise<void> {
    await Promise.allSettled(this.#shards.map((s) => this.#call(s.index, 'stop')))
  }

  /** Resolves when every live shard has settled what it was given, or after `timeoutMs`. */
  async idle(timeoutMs: number): Promise<void> {
    await Promise.allSettled(this.#shards.map((s) => this.#call(s.index, 'idle', {}, timeoutMs)))
  }

  /** Ends every shard (after `idle` and the last checkpoint); terminates one that lingers. */
  async close(): Promise<void> {
    this.#closing = true
    await Promise.all(
      this.#shards
        .filter((s) => !s.dead)
        .map(async (s) => {
          const ended = new Promise<void>((resolve) => s.worker.once('exit', () => resolve()))
          s.worker.postMessage({ close: true })
          let timer: NodeJS.Timeout | undefined
          const late = new Promise<'late'>(
            (r) => (timer = setTimeout(() => r('late'), CLOSE_WAIT_MS)),
          )
          if ((await Promise.race([ended, late])) === 'late') await s.worker.terminate()
          clearTimeout(timer)
        }),
    )
  }

  /** The batch being gathered for `shard`, with `hostId`'s view and counts if they changed. */
  #hostFacts(shard: Shard, hostId: number): NonNullable<Shard['pending']> {
    shard.pending ??= { events: [], transfer: [], views: [], slots: [] }
    const p = shard.pending
    const view = this.#d.hosts.ingestView(hostId)
    if (view && shard.sentViews.get(hostId) !== view) {
      shard.sentViews.set(hostId, view)
      p.views.push(view)
    }
    const slots = this.#d.hosts.accountSlots(hostId)
    if (slots) {
      const applied = shard.applied.get(hostId) ?? 0
      const key = `${slots.count}/${slots.limit}/${applied}`
      if (shard.sentSlots.get(hostId) !== key) {
        shard.sentSlots.set(hostId, key)
        p.slots.push([hostId, slots.count, slots.limit, applied])
      }
    }
    return p
  }

  #callFor<M extends ShardMethod>(
    did: string,
    method: M,
    ...args: Parameters<ShardMethods[M]>
  ): Promise<Awaited<ReturnType<ShardMethods[M]>>> {
    return this.#call(shardOf(did, this.#shards.length), method, {}, ...args) as Promise<
      Awaited<ReturnType<ShardMethods[M]>>
    >
  }

  #call<M extends ShardMethod>(
    index: number,
    method: M,
    opts: { atReply?: () => unknown } = {},
    ...args: Parameters<ShardMethods[M]>
  ): Promise<unknown> {
    const shard = this.#shards[index]!
    if (shard.dead)
      return Promise.reject(new ShardCallError(index, method, null, 'the shard ended'))
    // Events handed in before the call go first, so the call runs after them.
    this.#flush()
    const id = ++this.#nextCall
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { shard: index, method, ...opts, resolve, reject })
      shard.worker.postMessage({ call: id, method, args } satisfies ShardCall)
    })
  }

  #queueFlush(): void {
    if (this.#flushQueued) return
    this.#flushQueued = true
    setImmediate(() => this.#flush())
  }

  #flush(): void {
    this.#flushQueued = false
    for (const shard of this.#shards) {
      const p = shard.pending
      if (!p) continue
      shard.pending = undefined
      if (shard.dead) continue
      const batch: ShardBatch = {
        events: p.events,
        ...(p.views.length > 0 && { views: p.views }),
        ...(p.slots.length > 0 && { slots: p.slots }),
      }
      shard.worker.postMessage(batch, p.transfer)
    }
  }

  #carryOut(shard: Shard, ops: readonly ShardOp[]): void {
    const d = this.#d
    for (const op of ops) {
      switch (op[0]) {
        case 'append': {
          const [, hostId, upstreamSeq, did, type, prefix, suffix, note] = op
          try {
            d.log.append({
              frame: { type, prefix, suffix },
              hostId,
              upstreamSeq,
              did,
              ...(note !== undefined && { note }),
            })
            this.#stats.accepted++
          } catch (err) {
            // As ingest on one thread: the event completes as an error (a bug must not wedge
            // its host or end the process).
            this.#stats.errors++
            d.onError('error', err instanceof Error ? (err.stack ?? err.message) : String(err), {
              shard: shard.index,
              hostId,
              seq: upstreamSeq,
              did,
            })
          }
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
          shard.applied.set(op[1], (shard.applied.get(op[1]) ?? 0) + op[2])
          break
        case 'desync':
          d.onDesynchronized(op[1], op[2])
          break
        case 'error':
          d.onError(op[1], op[2], { shard: shard.index, ...op[3] })
          break
        case 'reply':
        case 'fail': {
          const w = this.#waiting.get(op[1])
          if (!w) break
          this.#waiting.delete(op[1])
          if (op[0] === 'reply') w.resolve(w.atReply ? w.atReply() : op[2])
          else w.reject(new ShardCallError(shard.index, w.method, op[2], op[3]))
          break
        }
      }
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
