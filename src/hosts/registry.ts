// The host registry: every known PDS host, kept in memory and in the database. It decides crawl
// requests (docs/design.md §4 item 20: hostname rules, SSRF-safe probe, bans, the public switch, the
// new-hosts-per-day limit), tells the composition root which hosts to subscribe to, keeps each
// host's sync-validation ratchet (persisted), and answers ingest's questions about a host.
// Deliberately not here: sockets (upstream/), policy routes (admin/), SQL (db/).
import type { HostRow, HostStore } from '../db/hosts.ts'
import type { IngestHost } from '../ingest/ingest.ts'
import { CrawlRefusedError } from './crawl-error.ts'
import { HostProbeError, InvalidHostnameError, UnsafeAddressError } from './errors.ts'
import { isDomainBanned, isTrustedDomain, normalizeHostname } from './hostname.ts'
import type { SyncRatchetState } from './sync-ratchet.ts'

export interface HostPolicy {
  readonly allowInsecureHosts: boolean
  readonly defaultAccountLimit: number
  readonly newHostsPerDayLimit: number
  readonly trustedDomains: readonly string[]
  readonly publicCrawlEnabled: boolean
  readonly bannedDomains: readonly string[]
}

export interface HostRegistryDeps {
  readonly store: HostStore
  readonly policy: () => HostPolicy
  /** describeServer probe; throws HostProbeError when the host is unreachable or not a PDS. */
  readonly probe: (
    target: { hostname: string; ssl: boolean },
    allowInsecure: boolean,
  ) => Promise<unknown>
  /** Start (or restart) the subscription to a host. */
  readonly subscribe: (host: HostRow) => void
  /** Told when a host is blocked or unblocked (the status machine follows). */
  readonly onBanChange?: (hostId: number, banned: boolean, reason: string) => void
  /** Stop the subscription to a host (block, ban, kill). */
  readonly unsubscribe?: (hostId: number) => Promise<void>
  readonly now?: () => number
  readonly onError?: (err: unknown, context: string) => void
}

export class HostRegistry {
  readonly #d: HostRegistryDeps
  readonly #byId = new Map<number, HostRow>()
  readonly #byName = new Map<string, number>()
  readonly #views = new Map<number, IngestHost>()
  /** Hosts whose account count changed since the last persist. */
  readonly #dirtyCounts = new Set<number>()
  readonly #now: () => number

  constructor(deps: HostRegistryDeps) {
    this.#d = deps
    this.#now = deps.now ?? Date.now
  }

  async load(): Promise<void> {
    for (const row of await this.#d.store.list()) this.#remember(row)
  }

  list(): HostRow[] {
    return [...this.#byId.values()]
  }

  get(id: number): HostRow | undefined {
    return this.#byId.get(id)
  }

  byHostname(hostname: string): HostRow | undefined {
    const id = this.#byName.get(hostname)
    return id === undefined ? undefined : this.#byId.get(id)
  }

  /** Ingest's view of a host (cheap: cached per row). */
  view(id: number): IngestHost | undefined {
    return this.#views.get(id)
  }

  /** Hosts to subscribe to at start: everything not banned. */
  active(): HostRow[] {
    return this.list().filter((h) => h.status !== 'banned')
  }

  /**
   * A crawl request from the public (`admin: false`) or an operator. Returns the host (existing
   * or new) and subscribes to it. Throws CrawlRefusedError.
   * A new host is followed from its live head, unless an operator gives `cursor`: the upstream
   * seq to start after (0: everything the PDS still holds). A known host keeps its own cursor, so
   * a start cursor for one is refused rather than silently ignored.
   */
  async requestCrawl(
    input: string,
    opts: { admin: boolean; allowInsecure?: boolean; cursor?: number },
  ): Promise<{ readonly host: HostRow; readonly created: boolean }> {
    const policy = this.#d.policy()
    const allowInsecure = opts.allowInsecure ?? (opts.admin || policy.allowInsecureHosts)
    let target: { hostname: string; ssl: boolean }
    try {
      target = normalizeHostname(input, { allowInsecure })
    } catch (err) {
      if (err instanceof InvalidHostnameError)
        throw new CrawlRefusedError('invalid-hostname', err.message, { cause: err })
      throw err
    }
    if (isDomainBanned(target.hostname, policy.bannedDomains)) {
      throw new CrawlRefusedError('banned', `${target.hostname} is banned from this relay`)
    }
    const existing = this.byHostname(target.hostname)
    if (existing?.status === 'banned')
      throw new CrawlRefusedError('banned', `${target.hostname} is banned from this relay`)
    if (existing && opts.cursor !== undefined) {
      throw new CrawlRefusedError(
        'known-host',
        `${target.hostname} is already followed from its own stored cursor; a start cursor applies only to a new host (resetCursor starts it again at its live head)`,
      )
    }
    if (!opts.admin && !policy.publicCrawlEnabled) {
      throw new CrawlRefusedError(
        'disabled',
        'this relay does not accept crawl requests from the public',
      )
    }
    if (!existing && !opts.admin) {
      const since = new Date(this.#now() - 24 * 3600_000).toISOString()
      if ((await this.#d.store.countCreatedSince(since)) >= policy.newHostsPerDayLimit) {
        throw new CrawlRefusedError(
          'rate-limited',
          'this relay has added its daily limit of new hosts; try again later',
        )
      }
    }
    try {
      await this.#d.probe(target, allowInsecure)
    } catch (err) {
      if (err instanceof HostProbeError || err instanceof UnsafeAddressError) {
        throw new CrawlRefusedError('unreachable', err.message, { cause: err })
      }
      throw err
    }
    const row =
      existing ??
      (await this.#d.store.create({
        hostname: target.hostname,
        ssl: target.ssl,
        accountLimit: policy.defaultAccountLimit,
        trusted: isTrustedDomain(target.hostname, policy.trustedDomains),
        cursor: opts.admin ? (opts.cursor ?? null) : null,
      }))
    this.#remember(row)
    this.#d.subscribe(row)
    return { host: row, created: existing === undefined }
  }

  /** Stores a new sync-ratchet state (in memory at once, in the database shortly after). */
  setSyncState(id: number, state: SyncRatchetState): void {
    const row = this.#byId.get(id)
    if (!row) return
    const patch = {
      syncMode: state.mode,
      syncEffective: state.effective,
      syncGoodRun: state.goodRun,
    }
    this.#remember({ ...row, ...patch })
    // The good-run counter changes on every commit of a lenient host: persist only transitions
    // and every 10th step; the cursor/flush cycle is not needed for a counter.
    if (state.effective !== row.syncEffective || state.goodRun % 10 === 0) {
      this.#d.store
        .update(id, patch)
        .catch((err: unknown) => this.#d.onError?.(err, 'persisting sync state'))
    }
  }

  /** Seeds account counts (at start, from the database). */
  setAccountCounts(counts: ReadonlyMap<number, number>): void {
    for (const row of this.list()) {
      const n = counts.get(row.id) ?? 0
      if (n !== row.accountCount) {
        this.#remember({ ...row, accountCount: n })
        this.#dirtyCounts.add(row.id)
      }
    }
  }

  /** Slots used and allowed: new accounts beyond the limit are throttled (DESIGN §4 item 14). */
  accountSlots(id: number): { count: number; limit: number } | undefined {
    const row = this.#byId.get(id)
    return row ? { count: row.accountCount, limit: row.accountLimit } : undefined
  }

  adjustAccountCount(id: number, delta: number): void {
    const row = this.#byId.get(id)
    if (!row || delta === 0) return
    this.#remember({ ...row, accountCount: Math.max(0, row.accountCount + delta) })
    this.#dirtyCounts.add(id)
  }

  /** Writes changed account counts (called with each checkpoint). */
  async persistCounts(): Promise<void> {
    const ids = [...this.#dirtyCounts]
    this.#dirtyCounts.clear()
    for (const id of ids) {
      const row = this.#byId.get(id)
      if (row) await this.#d.store.update(id, { accountCount: row.accountCount })
    }
  }

  /** Blocks a host: status `banned`, its subscription stopped (DESIGN §4 item 17). */
  async block(id: number, reason: string): Promise<void> {
    await this.update(id, { status: 'banned', statusReason: reason })
    this.#d.onBanChange?.(id, true, reason)
    await this.#d.unsubscribe?.(id)
  }

  /** Unblocks a host and reconnects from its stored cursor. */
  async unblock(id: number): Promise<void> {
    await this.update(id, { status: 'active', statusReason: null })
    this.#d.onBanChange?.(id, false, 'unblocked by an operator')
    const row = this.#byId.get(id)
    if (row) this.#d.subscribe(row)
  }

  /** After a domain ban: blocks every known host under it; returns how many. */
  async applyDomainBan(domain: string): Promise<number> {
    let n = 0
    for (const row of this.list()) {
      if (row.status !== 'banned' && isDomainBanned(row.hostname, [domain])) {
        await this.block(row.id, `domain ${domain} is banned`)
        n++
      }
    }
    return n
  }

  /** Applies a patch in memory and in the database. */
  async update(id: number, patch: Parameters<HostStore['update']>[1]): Promise<void> {
    const row = this.#byId.get(id)
    if (!row) return
    // In memory first (synchronously), so changes made while the write is in flight (counts,
    // ratchet, statuses) are not overwritten by a stale copy afterwards.
    this.#remember({ ...row, ...patch })
    await this.#d.store.update(id, patch)
  }

  #remember(row: HostRow): void {
    this.#byId.set(row.id, row)
    this.#byName.set(row.hostname, row.id)
    this.#views.set(row.id, {
      id: row.id,
      hostname: row.hostname,
      banned: row.status === 'banned',
      sync: { mode: row.syncMode, effective: row.syncEffective, goodRun: row.syncGoodRun },
    })
  }
}
