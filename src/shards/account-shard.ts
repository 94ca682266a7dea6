// One account shard (docs/scaling.md, stage 1), run in a worker thread: it owns the accounts
// whose DID hashes to it (accounts/shard-of.ts): their states, identities and serial order. It runs the
// same ingest pipeline the main thread runs without shards (ingest/ingest.ts), verification
// included, with its own database connection and caches. What belongs to the main thread (the
// log, the hosts' settlements, slot and ratchet counts, drops, repairs, logging) goes back as
// ops, one message per turn (shard-messages.ts); the main thread's calls about its accounts
// (admin operations, resyncs, route reads, checkpoints) run here, in order with their events.
// Checkpoints: `snapshot` takes the changed states aside and answers in order after every record
// appended before it; the main thread then syncs the log and calls `save` with the log seq that
// answer arrived at, which covers every record of this shard's accounts in the snapshot and
// none after it.
// Verification runs in this thread, or at a less busy shard while this one is behind
// (verify-lending.ts); either way the outcome comes back here, to the account's turn.
// With host threads (host-threads/), events come from the thread reading their host's socket,
// and their settlements go back to it (HostSettled), not through the main thread.
// Archival mode: the shard owns its accounts' stored repos too, with a mirror of its own
// (archive/mirror.ts) that ingest writes every accepted commit, import and deletion to, and that
// compacts them when the main thread asks; on SQLite its statements run on the main thread's
// writer thread (shard-archive-writer.ts).
import type { MessagePort } from 'node:worker_threads'
import { type Tracer, trace } from '@opentelemetry/api'
import { AccountCache, type AccountSnapshot } from '../accounts/account-cache.ts'
import { accountPersistence, oldestThrottled } from '../accounts/account-rows.ts'
import type { ArchiveDatabase } from '../archive/archive-db.ts'
import type { Mirror } from '../archive/mirror.ts'
import type { RelayDatabase } from '../db/database.ts'
import type { AppendInput, LogRecord } from '../eventlog/types.ts'
import type { HostIngestView } from '../hosts/host-rows.ts'
import type { CachingIdentityResolver } from '../identity/cache.ts'
import { relayIdentity } from '../identity/relay-identity.ts'
import { StoredIdentities } from '../identity/stored-identities.ts'
import { Ingest, type IngestHosts } from '../ingest/ingest.ts'
import { runVerifyTask } from '../ingest/verify-task.ts'
import { EndOfTurn } from '../runtime/end-of-turn.ts'
import { repoStatusChecker } from '../upstream/repo-status.ts'
import { verifySignature } from '../verify/crypto/signature.ts'
import { packAppendFrames } from './append-frames.ts'
import type { ShardArchiveWriter } from './shard-archive-writer.ts'
import { ShardHistograms } from './shard-histograms.ts'
import { ShardLoads } from './shard-load.ts'
import type {
  HostSettled,
  ShardBatch,
  ShardCall,
  ShardMethods,
  ShardOp,
  ShardOps,
  ShardStart,
} from './shard-messages.ts'
import { VerifyLending } from './verify-lending.ts'

/** Archival mode in a shard: its archive connection, its mirror, and on SQLite where it writes. */
export interface ShardArchive {
  readonly adb: ArchiveDatabase
  readonly mirror: Mirror
  /** SQLite only: the writes, carried to the main thread's writer thread. */
  readonly writer?: ShardArchiveWriter
}

/** An error as text for the main thread's log: its stack when it has one. */
const errorText = (err: unknown): string =>
  err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err)

export class AccountShard {
  readonly #views = new Map<number, HostIngestView>()
  /** Slot requests waiting for the main thread's answer, by id. */
  readonly #asked = new Map<number, (granted: boolean) => void>()
  /**
   * Accounts whose slot the main thread granted and counted (new ones, releases, returns from
   * deleted), with the host it was granted for: the store's +1 is not sent again (or, taking no
   * slot after all, or failing before the store, the grant goes back).
   */
  readonly #granted = new Map<string, number>()
  #nextAsk = 0
  readonly #ingest: Ingest
  readonly #methods: ShardMethods
  readonly #send: (msg: ShardOps, transfer: ArrayBuffer[]) => void
  #ops: ShardOp[] = []
  #transfer: ArrayBuffer[] = []
  /** With host threads: their channels, and per thread the settlements to send this turn. */
  readonly #hostPorts: readonly MessagePort[]
  readonly #settledOut: number[][]
  readonly #sends = new EndOfTurn(() => this.#flush())
  /**
   * Stands in for the log seq, which the main thread assigns later: the pipeline hands a seq on
   * with each new state, and the account cache does not keep it (a checkpoint's seq comes from
   * the snapshot's answer instead).
   */
  #ticket = 0
  #snapshot: AccountSnapshot | undefined
  readonly #identity: CachingIdentityResolver
  readonly #lending: VerifyLending
  readonly #histograms: ShardHistograms
  readonly #archive: ShardArchive | undefined

  /**
   * `tracer`: the shard's own exporter's, when tracing is on; `archive`: in archival mode
   * (shard-worker.ts opens both).
   */
  constructor(
    start: ShardStart,
    db: RelayDatabase,
    send: (msg: ShardOps, transfer: ArrayBuffer[]) => void,
    tracer: Tracer = trace.getTracer('shard'),
    archive?: ShardArchive,
  ) {
    const { config } = start
    this.#send = send
    this.#hostPorts = start.hostPorts ?? []
    this.#settledOut = this.#hostPorts.map(() => [])
    this.#archive = archive
    archive?.writer?.connect((id, call, transfer) => {
      this.#transfer.push(...transfer)
      this.#op(['archive', id, call])
    })
    const mirror = archive?.mirror
    const accounts = new AccountCache(accountPersistence(db, { shard: start.index }), {
      maxEntries: Math.max(1, Math.ceil(config.accountCacheSize / start.count)),
    })
    // Each shard caches its own accounts' states and identities: its share of each cache (and of
    // the database connections, shard-worker.ts). Its clock is the system's: tests' overrides of
    // the relay's clock do not reach the shards.
    const shareOf = (n: number) => Math.max(1, Math.ceil(n / start.count))
    // Its histograms go to the main thread's metrics on their own, once a second at most.
    const histograms = new ShardHistograms((totals) =>
      this.#send({ ops: [], ...this.#counts(), histograms: totals }, []),
    )
    this.#histograms = histograms
    // Its accounts' identities as last resolved, kept across restarts in the shared table.
    const stored = new StoredIdentities(db.identities)
    const identity = relayIdentity(
      { ...config, identityCacheSize: shareOf(config.identityCacheSize) },
      Date.now,
      tracer,
      histograms,
      stored,
    )
    this.#identity = identity
    // Verification runs here, or at a less busy shard when this one is behind (decision 11).
    const lending = new VerifyLending({
      index: start.index,
      loads: new ShardLoads(start.loads),
      peers: start.peers,
      local: (task) => runVerifyTask(task, verifySignature),
      accounts: () => this.#ingest.pendingAccounts,
    })
    this.#lending = lending
    const hosts: IngestHosts = {
      ingestView: (id) => this.#views.get(id),
      commitAccepted: (hostId, proven) => this.#op(['commit', hostId, proven]),
      // New accounts ask the main thread for a slot (`askSlot`): it counts every shard's, so
      // a host's limit holds however many shards admit its new accounts at once.
      accountSlots: () => undefined,
      askSlot: (hostId, did) =>
        new Promise<boolean>((resolve) => {
          const id = ++this.#nextAsk
          this.#asked.set(id, (granted) => {
            if (granted) this.#granted.set(did, hostId)
            resolve(granted)
          })
          this.#op(['slot', id, hostId])
        }),
      adjustAccountCount: (hostId, delta, did) => {
        // A granted slot is counted on the main thread already.
        const counted = did !== undefined && this.#granted.get(did) === hostId ? 1 : 0
        if (counted) this.#granted.delete(did!)
        if (delta !== counted) this.#op(['count', hostId, delta - counted])
      },
      settled: (hostId, seq, dropped) => {
        lending.settled()
        const n = this.#hostPorts.length
        if (n === 0) this.#op(['settled', hostId, seq, dropped])
        else {
          // To the host thread that handed the event in (host threads own the flow control).
          this.#settledOut[hostId % n]!.push(hostId, seq, dropped ? 1 : 0)
          this.#sends.queue()
        }
      },
    }
    const log = {
      append: (input: AppendInput): LogRecord => {
        // The frame's bytes are copied as the ops go (append-frames.ts), all in one buffer.
        const { hostId, upstreamSeq, did, note, frame } = input
        this.#op(['append', hostId, upstreamSeq, did, frame.type, frame.prefix, frame.suffix, note])
        return { seq: ++this.#ticket } as LogRecord
      },
    }
    const ingest = new Ingest({
      tracer,
      identity,
      accounts,
      hosts,
      log,
      verify: (task) => histograms.timeVerify(() => lending.verify(task)),
      drops: { record: (drop) => this.#op(['drop', drop]) },
      now: Date.now,
      syncDefault: config.syncValidation,
      checkRepoStatus: repoStatusChecker({
        userAgent: config.userAgent,
        allowInsecure: config.allowInsecureHosts,
      }),
      oldestThrottled: (hostId, limit) => oldestThrottled(db, hostId, limit),
      // Releasing throttled accounts runs on the main thread, which checkpoints every shard.
      flushAccounts: () => Promise.reject(new Error('not used in a shard')),
      onError: (err, ctx) =>
        this.#op(['error', ctx.waiting ? 'warn' : 'error', errorText(err), ctx]),
      onDesynchronized: (did, hostId) => this.#op(['desync', did, hostId]),
      ...(mirror && { mirror }),
    })
    this.#ingest = ingest
    this.#methods = {
      snapshot: () => {
        // A snapshot left from a checkpoint that never got to `save` goes back first.
        if (this.#snapshot) accounts.restore(this.#snapshot)
        this.#snapshot = accounts.takeSnapshot(0)
        return this.#snapshot.states.length
      },
      restore: () => {
        if (this.#snapshot) accounts.restore(this.#snapshot)
        this.#snapshot = undefined
      },
      save: async (seq, pace) => {
        const taken = this.#snapshot
        if (!taken) return 0
        this.#snapshot = undefined
        return accounts.writeSnapshot({ states: taken.states, checkpointSeq: seq }, pace)
      },
      // After the checkpoint's cursors; a failure keeps them for the next, and is only logged.
      flushIdentities: (pace) =>
        stored
          .flush(pace)
          .catch((err: unknown) =>
            this.#op(['error', 'warn', `writing resolved identities: ${errorText(err)}`, {}]),
          ),
      takeDown: (did) => ingest.takeDown(did),
      reverseTakedown: (did) => ingest.reverseTakedown(did),
      release: (did) => ingest.release(did),
      resynchronize: (did, input) => ingest.resynchronize(did, input),
      account: (did) => accounts.get(did),
      peekAccounts: (dids) => dids.map((did) => accounts.peek(did)),
      peekIdentity: (did) => identity.peek(did),
      purgeIdentity: (did) => identity.purge(did),
      resolveIdentity: (did) => identity.resolve(did),
      compact: (did) => {
        if (!mirror) throw new Error('archival mode is off')
        return mirror.compact(did)
      },
      stop: () => ingest.stop(),
      idle: (timeoutMs) => ingest.idle(timeoutMs),
    }
  }

  /** Whether the main thread has sent this host's view (a host thread's events need it). */
  knowsHost(hostId: number): boolean {
    return this.#views.has(hostId)
  }

  receive(batch: ShardBatch): void {
    if (batch.answers) for (const a of batch.answers) this.#archive?.writer?.answered(a)
    if (batch.views) for (const v of batch.views) this.#views.set(v.id, v)
    for (const [id, granted] of batch.slots ?? []) {
      const answer = this.#asked.get(id)
      this.#asked.delete(id)
      answer?.(granted)
    }
    this.#lending.took(batch.events.length)
    for (const [hostId, msg, raw] of batch.events) this.#ingest.handle(hostId, msg, raw)
  }

  /** Sends the last histogram totals and closes the channels to the other shards (the thread is ending). */
  close(): void {
    this.#archive?.writer?.close()
    this.#histograms.close()
    this.#lending.close()
  }

  /** Something for the main thread's log that is not about an event (a warning). */
  warn(text: string): void {
    this.#op(['error', 'warn', text, {}])
  }

  /** Runs a call; its answer is an op, after every op of what ran before it. */
  call(c: ShardCall): void {
    let value: unknown
    try {
      const method = this.#methods[c.method] as (...args: readonly unknown[]) => unknown
      value = method(...c.args)
    } catch (err) {
      this.#fail(c.call, err)
      return
    }
    if (!(value instanceof Promise)) {
      this.#op(['reply', c.call, value])
      return
    }
    value.then(
      (v: unknown) => this.#op(['reply', c.call, v]),
      (err: unknown) => this.#fail(c.call, err),
    )
  }

  #fail(call: number, err: unknown): void {
    const name = err instanceof Error ? err.name : 'Error'
    this.#op(['fail', call, name, err instanceof Error ? err.message : String(err)])
  }

  #op(op: ShardOp): void {
    this.#ops.push(op)
    this.#sends.queue()
  }

  #flush(): void {
    this.#settledOut.forEach((settled, i) => {
      if (settled.length === 0) return
      this.#settledOut[i] = []
      this.#hostPorts[i]!.postMessage({ settled } satisfies HostSettled)
    })
    if (this.#ops.length === 0 && this.#hostPorts.length > 0) return
    const { ops, transfer } = packAppendFrames(this.#ops)
    transfer.push(...this.#transfer)
    this.#ops = []
    this.#transfer = []
    this.#send({ ops, ...this.#counts() }, transfer)
  }

  /** The totals that go with every message. */
  #counts(): Omit<ShardOps, 'ops' | 'histograms'> {
    const { errors, retries } = this.#ingest.stats
    const identity = { ...this.#identity.counters, ...this.#identity.gauges() }
    const mirror = this.#archive && { ...this.#archive.mirror.stats }
    const { received, accepted, dropped, inFlight } = this.#ingest.stats
    return {
      errors,
      retries,
      lent: this.#lending.lent,
      identity,
      ...(mirror && { mirror }),
      ...(this.#hostPorts.length > 0 && { events: { received, accepted, dropped, inFlight } }),
    }
  }
}
