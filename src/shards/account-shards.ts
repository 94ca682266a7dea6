// The main thread's side of the account shards (docs/scaling.md, stage 1): hands each upstream
// event to the shard its DID hashes to, one message per shard per turn, with the views and slot
// counts of the hosts in it that the shard has not seen as they are now; and carries out what
// the shards send back in order: appending to the log, settling host events, counting drops and
// ratchet commits, keeping slot counts, queueing repairs, logging.
// Deliberately not here (yet): replacing a shard that dies, admin operations, route reads,
// checkpoints per shard.
import { Worker } from 'node:worker_threads'
import type { RelayConfig } from '../config/config.ts'
import type { HostIngestView } from '../hosts/host-rows.ts'
import type { IngestHosts, IngestStats } from '../ingest/ingest.ts'
import type { Drop } from '../ingest/drop-counter.ts'
import type { AppendInput, LogRecord } from '../eventlog/types.ts'
import type { UpstreamEvent } from '../protocol/envelope.ts'
import type {
  EventItem,
  FromShard,
  ShardBatch,
  ShardOp,
  ShardStart,
  SlotItem,
} from './shard-messages.ts'

export interface AccountShardsDeps {
  readonly count: number
  readonly config: RelayConfig
  readonly hosts: IngestHosts
  readonly log: { append(input: AppendInput): LogRecord }
  readonly drops: { record(drop: Drop): void }
  readonly onDesynchronized: (did: string, hostId: number) => void
  readonly onError: (level: 'warn' | 'error', message: string, context: object) => void
}

/** Which shard owns an account: FNV-1a over the whole DID, folded (not the caches' hash). */
export function shardOf(did: string, count: number): number {
  let h = 0x01000193
  for (let i = 0; i < did.length; i++) h = Math.imul(h ^ did.charCodeAt(i), 0x811c9dc5)
  return ((h ^ (h >>> 15)) >>> 0) % count
}

interface Pending {
  events: EventItem[]
  transfer: ArrayBuffer[]
  views: HostIngestView[]
  slots: SlotItem[]
}

export class AccountShards {
  readonly #d: AccountShardsDeps
  readonly #workers: Worker[] = []
  readonly #ready: Promise<void>[] = []
  /** Per shard: the host views and slots last sent, to send only what changed. */
  readonly #sentViews: Map<number, HostIngestView>[] = []
  readonly #sentSlots: Map<number, string>[] = []
  readonly #pending: (Pending | undefined)[] = []
  #flushQueued = false
  readonly stats: IngestStats = {
    received: 0,
    accepted: 0,
    dropped: 0,
    errors: 0,
    retries: 0,
    inFlight: 0,
  }

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
          worker.once('error', reject)
          worker.on('message', (m: FromShard) => {
            if ('ready' in m) return resolve()
            this.#carryOut(m.ops)
          })
        }),
      )
      this.#workers.push(worker)
      this.#sentViews.push(new Map())
      this.#sentSlots.push(new Map())
      this.#pending.push(undefined)
    }
  }

  ready(): Promise<void> {
    return Promise.all(this.#ready).then(() => {})
  }

  handle(hostId: number, msg: UpstreamEvent, raw: Uint8Array): void {
    this.stats.received++
    this.stats.inFlight++
    const i = shardOf(msg.did, this.#workers.length)
    let p = this.#pending[i]
    if (!p) {
      p = { events: [], transfer: [], views: [], slots: [] }
      this.#pending[i] = p
    }
    const own = raw.slice()
    p.events.push([hostId, msg, own])
    p.transfer.push(own.buffer)
    const view = this.#d.hosts.ingestView(hostId)
    const sent = this.#sentViews[i]!
    if (view && sent.get(hostId) !== view) {
      sent.set(hostId, view)
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
    if (!this.#flushQueued) {
      this.#flushQueued = true
      setImmediate(() => this.#flush())
    }
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

  #carryOut(ops: readonly ShardOp[]): void {
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
          this.stats.accepted++
          break
        }
        case 'settled':
          d.hosts.settled(op[1], op[2], op[3])
          this.stats.inFlight--
          break
        case 'drop':
          d.drops.record(op[1])
          this.stats.dropped++
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
          if (op[1] === 'error') this.stats.errors++
          d.onError(op[1], op[2], op[3])
          break
      }
    }
  }

  async close(): Promise<void> {
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
}
