// One account shard (docs/scaling.md, stage 1), run in a worker thread: it owns the accounts
// whose DID hashes to it (their states, identities and serial order) and runs the same ingest
// pipeline the main thread runs without shards (ingest/ingest.ts), verification included, with
// its own database connection. What belongs to the main thread (the log, the hosts' settlements,
// slot counts and ratchet counts, drops, repairs, logging) goes back as ops, one message per
// turn (shard-messages.ts).
// Deliberately not here (yet): archival mode, admin operations on accounts, route reads,
// checkpoints per shard.
import { AccountCache } from '../accounts/account-cache.ts'
import { accountPersistence, oldestThrottled } from '../accounts/account-rows.ts'
import { Takedowns } from '../accounts/takedowns.ts'
import type { RelayDatabase } from '../db/database.ts'
import type { AppendInput, LogRecord } from '../eventlog/types.ts'
import type { HostIngestView } from '../hosts/host-rows.ts'
import { Ingest, type IngestHosts } from '../ingest/ingest.ts'
import { runVerifyTask } from '../ingest/verify-task.ts'
import { relayIdentity } from '../relay-parts.ts'
import { repoStatusChecker } from '../upstream/repo-status.ts'
import { verifySignature } from '../verify/crypto/signature.ts'
import type { ShardBatch, ShardOp, ShardStart } from './shard-messages.ts'
import { trace } from '@opentelemetry/api'

export class AccountShard {
  readonly #views = new Map<number, HostIngestView>()
  readonly #slots = new Map<number, { count: number; limit: number }>()
  readonly #ingest: Ingest
  readonly #send: (ops: ShardOp[], transfer: ArrayBuffer[]) => void
  #ops: ShardOp[] = []
  #transfer: ArrayBuffer[] = []
  #flushQueued = false
  /** Stands in for the log seq until the main thread assigns it. */
  #ticket = 0

  constructor(
    start: ShardStart,
    db: RelayDatabase,
    send: (ops: ShardOp[], transfer: ArrayBuffer[]) => void,
  ) {
    const { config } = start
    this.#send = send
    const accounts = new AccountCache(accountPersistence(db), {
      maxEntries: Math.ceil(config.accountCacheSize / start.count),
    })
    const identity = relayIdentity(config, Date.now, trace.getTracer('shard'), undefined)
    const hosts: IngestHosts = {
      ingestView: (id) => this.#views.get(id),
      commitAccepted: (hostId, proven) => this.#op(['commit', hostId, proven]),
      accountSlots: (id) => this.#slots.get(id),
      adjustAccountCount: (hostId, delta) => {
        const s = this.#slots.get(hostId)
        if (s) s.count += delta
        this.#op(['count', hostId, delta])
      },
      settled: (hostId, seq, dropped) => this.#op(['settled', hostId, seq, dropped]),
    }
    const log = {
      append: (input: AppendInput): LogRecord => {
        // Bytes of their own: encoders may hand out views into a shared pool.
        const prefix = new Uint8Array(input.frame.prefix)
        const suffix = new Uint8Array(input.frame.suffix)
        this.#transfer.push(prefix.buffer, suffix.buffer)
        const { hostId, upstreamSeq, did, note } = input
        this.#op(['append', hostId, upstreamSeq, did, input.frame.type, prefix, suffix, note])
        return { seq: ++this.#ticket } as LogRecord
      },
    }
    this.#ingest = new Ingest({
      identity,
      accounts,
      takedowns: new Takedowns(),
      hosts,
      log,
      verify: (task) => runVerifyTask(task, verifySignature),
      drops: { record: (drop) => this.#op(['drop', drop]) },
      now: Date.now,
      syncDefault: config.syncValidation,
      checkRepoStatus: repoStatusChecker({
        userAgent: config.userAgent,
        allowInsecure: config.allowInsecureHosts,
      }),
      oldestThrottled: (hostId, limit) => oldestThrottled(db, hostId, limit),
      flushAccounts: async () => {
        await accounts.write(0)
      },
      onError: (err, ctx) =>
        this.#op([
          'error',
          ctx.waiting ? 'warn' : 'error',
          err instanceof Error ? `${err.name}: ${err.message}` : String(err),
          ctx,
        ]),
      onDesynchronized: (did, hostId) => this.#op(['desync', did, hostId]),
    })
  }

  receive(batch: ShardBatch): void {
    if (batch.views) for (const v of batch.views) this.#views.set(v.id, v)
    if (batch.slots) {
      for (const [id, count, limit] of batch.slots) this.#slots.set(id, { count, limit })
    }
    for (const [hostId, msg, raw] of batch.events) this.#ingest.handle(hostId, msg, raw)
  }

  #op(op: ShardOp): void {
    this.#ops.push(op)
    if (this.#flushQueued) return
    this.#flushQueued = true
    setImmediate(() => this.#flush())
  }

  #flush(): void {
    this.#flushQueued = false
    const ops = this.#ops
    const transfer = this.#transfer
    this.#ops = []
    this.#transfer = []
    this.#send(ops, transfer)
  }
}
