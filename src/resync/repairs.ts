// Repairs of desynchronized accounts, in both modes: an account is queued when it becomes
// desynchronized (its commit chain broke, the mirror could not follow it, it was released from
// throttling, or its takedown was reversed in archival mode), and a worker has RepoSyncer fetch
// its current state and announce it with `#sync` (repo-syncer.ts). At most `concurrency` repairs
// run at once and at most one per host, hosts taking turns; each fetch also waits for the host's
// crawl-rate slot, so a PDS that breaks many chains at once is not flooded.
// A failed repair is tried again later (1 min, 5 min, 30 min, then every 2 h); an account that no
// longer needs one (active again, taken down, gone) is simply done.
// Queue bound: MAX_QUEUED accounts. Past it an account is not queued (counted as `overflow`); it
// stays desynchronized in the account table, and the sweep (at start, then every SWEEP_MS)
// queues every stored desynchronized account that is not queued yet.
// Deliberately not here: how an account is fetched and taken in (repo-syncer.ts, ingest/).
import type { SyncAccountResult } from './repo-syncer.ts'

export const MAX_QUEUED = 100_000
const SWEEP_MS = 10 * 60_000
const RETRY_MS = [60_000, 5 * 60_000, 30 * 60_000, 2 * 60 * 60_000]

export interface RepairsDeps {
  readonly repair: (did: string) => Promise<SyncAccountResult>
  /** A page of the stored desynchronized accounts, by DID. */
  readonly listDesynchronized: (
    afterDid: string | null,
    limit: number,
  ) => Promise<readonly { did: string; hostId: number }[]>
  readonly logger: {
    info(obj: object, msg: string): void
    warn(obj: object, msg: string): void
    error(obj: object, msg: string): void
  }
  readonly concurrency?: number
}

export interface RepairStats {
  queued: number
  running: number
  repaired: number
  failed: number
  overflow: number
}

export class Repairs {
  readonly #d: RepairsDeps
  readonly #concurrency: number
  /** Per host, the accounts waiting, oldest first; hosts take turns in insertion order. */
  readonly #byHost = new Map<number, string[]>()
  /** Every account queued, waiting for a retry, or running, with its failed attempts. */
  readonly #known = new Map<string, { hostId: number; attempts: number }>()
  readonly #busyHosts = new Set<number>()
  readonly #retries = new Set<NodeJS.Timeout>()
  readonly #running = new Set<Promise<void>>()
  readonly stats: RepairStats = { queued: 0, running: 0, repaired: 0, failed: 0, overflow: 0 }
  #sweepTimer: NodeJS.Timeout | undefined
  #stopped = true

  constructor(deps: RepairsDeps) {
    this.#d = deps
    this.#concurrency = Math.max(1, deps.concurrency ?? 4)
  }

  /** Starts the workers and the sweep (which first queues what is stored as desynchronized). */
  start(): void {
    this.#stopped = false
    // Accounts queued before the start (found desynchronized during recovery) run now: the sweep
    // skips them as already known, so nothing else would start them.
    this.#pump()
    void this.#sweep()
    this.#sweepTimer = setInterval(() => void this.#sweep(), SWEEP_MS)
    this.#sweepTimer.unref()
  }

  /** Stops taking work; resolves when the repairs running have ended. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearInterval(this.#sweepTimer)
    for (const t of this.#retries) clearTimeout(t)
    this.#retries.clear()
    await Promise.allSettled([...this.#running])
  }

  /** Queues an account's repair (nothing when it is already queued or running). */
  enqueue(did: string, hostId: number): void {
    if (this.#known.has(did)) return
    if (this.#known.size >= MAX_QUEUED) {
      this.stats.overflow++
      return
    }
    this.#known.set(did, { hostId, attempts: 0 })
    this.#push(did, hostId)
  }

  #push(did: string, hostId: number): void {
    let list = this.#byHost.get(hostId)
    if (!list) {
      list = []
      this.#byHost.set(hostId, list)
    }
    list.push(did)
    this.stats.queued++
    this.#pump()
  }

  #pump(): void {
    while (!this.#stopped && this.#running.size < this.#concurrency) {
      const next = this.#take()
      if (!next) return
      const run = this.#run(next.did, next.hostId).finally(() => {
        this.#running.delete(run)
        this.#busyHosts.delete(next.hostId)
        this.stats.running = this.#running.size
        this.#pump()
      })
      this.#running.add(run)
      this.stats.running = this.#running.size
    }
  }

  /** The first account of the first host (in turn) not busy; that host moves to the back. */
  #take(): { did: string; hostId: number } | undefined {
    for (const [hostId, list] of this.#byHost) {
      if (this.#busyHosts.has(hostId)) continue
      const did = list.shift()!
      this.#byHost.delete(hostId)
      if (list.length > 0) this.#byHost.set(hostId, list)
      this.#busyHosts.add(hostId)
      this.stats.queued--
      return { did, hostId }
    }
    return undefined
  }

  async #run(did: string, hostId: number): Promise<void> {
    const entry = this.#known.get(did)!
    let out: SyncAccountResult
    try {
      out = await this.#d.repair(did)
    } catch (err) {
      out = { did, result: 'failed', reason: 'unreachable', detail: String(err) }
      this.#d.logger.error({ err, did }, 'repair failed unexpectedly')
    }
    if (out.result !== 'failed' && out.result !== 'stale') {
      this.#known.delete(did)
      this.stats.repaired++
      this.#d.logger.info({ did, result: out.result, rev: out.rev }, 'account repaired')
      return
    }
    this.stats.failed++
    const delay = RETRY_MS[Math.min(entry.attempts, RETRY_MS.length - 1)]!
    entry.attempts++
    this.#d.logger.warn(
      {
        did,
        attempts: entry.attempts,
        retryInMs: delay,
        ...('reason' in out ? { reason: out.reason, detail: out.detail } : {}),
      },
      'repair failed; will retry',
    )
    if (this.#stopped) return
    const timer = setTimeout(() => {
      this.#retries.delete(timer)
      this.#push(did, hostId)
    }, delay)
    timer.unref()
    this.#retries.add(timer)
  }

  async #sweep(): Promise<void> {
    try {
      let after: string | null = null
      for (;;) {
        const page = await this.#d.listDesynchronized(after, 1000)
        for (const a of page) this.enqueue(a.did, a.hostId)
        if (page.length < 1000 || this.#stopped) return
        after = page.at(-1)!.did
      }
    } catch (err) {
      this.#d.logger.error({ err }, 'listing desynchronized accounts failed')
    }
  }
}
