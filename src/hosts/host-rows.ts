// Every known host's stored row, kept in memory and written through to the database, plus the
// two things the per-event path changes often enough to batch: each host's sync-ratchet state
// and its account count (slots used). Also the ban reasons, as data (ban.ts), in the meta table.
// Only hosts.ts writes here: it decides; this file remembers.
// Changes are made in memory first (synchronously), so a write still in flight is never
// overwritten by a stale copy. Account counts and the ratchet's good-run counter are written with
// each checkpoint; a ratchet transition (lenient to strict) at once. A host has at most one row
// write running and one waiting: changes made meanwhile join the waiting one, which writes the
// values in memory when it starts. (Unserialised, a busy lenient host's counter writes queued on
// its row's lock and could hold every pooled PostgreSQL connection, stalling all other queries.)
// A write that fails leaves its fields marked: the host's next write, `written()`, or the next
// checkpoint writes them again, so memory and the table never stay apart.
// Deliberately not here: any rule about hosts (admission, status, limits), connections.
import type { HostPatch, HostRow, HostStore, NewHost } from '../db/hosts.ts'
import { type BanReason, banFrom } from './ban.ts'
import type { SyncRatchetState } from './sync-ratchet.ts'

/** The few members of a host ingest reads on every event. */
export interface HostIngestView {
  readonly id: number
  readonly hostname: string
  readonly banned: boolean
  readonly sync: SyncRatchetState
}

/** The meta table, for the ban reasons (a small key-value store). */
export interface BanStore {
  get(key: string): Promise<string | undefined>
  set(key: string, value: string): Promise<void>
}

const BANS_KEY = 'hosts.bans'
const SYNC_FIELDS: readonly (keyof HostPatch)[] = ['syncMode', 'syncEffective', 'syncGoodRun']

export class HostRows {
  readonly #store: HostStore
  readonly #meta: BanStore
  readonly #onError: (err: unknown, context: string) => void
  readonly #byId = new Map<number, HostRow>()
  readonly #byName = new Map<string, number>()
  readonly #views = new Map<number, HostIngestView>()
  readonly #bans = new Map<number, BanReason>()
  /** Hosts whose account count changed since the last persist. */
  readonly #dirtyCounts = new Set<number>()
  /** Hosts whose ratchet counter moved (with no transition) since the last persist. */
  readonly #dirtySync = new Set<number>()
  /** The newest write of each host's row still in flight (running or waiting). */
  readonly #writes = new Map<number, Promise<void>>()
  /** Each host's waiting write: the fields it will write when the running one ends. */
  readonly #waiting = new Map<number, Set<keyof HostPatch>>()
  /**
   * Fields of a host's row whose last write failed, with that failure: written again with the
   * host's next write (with the values in memory then), or by the next checkpoint.
   */
  readonly #unwritten = new Map<number, { fields: Set<keyof HostPatch>; error: unknown }>()

  readonly #onViewChange: (id: number) => void

  constructor(
    store: HostStore,
    meta: BanStore,
    onError: (err: unknown, context: string) => void,
    /** A known host's view changed in what ingest decides by (not the ratchet's counts). */
    onViewChange: (id: number) => void = () => {},
  ) {
    this.#store = store
    this.#meta = meta
    this.#onError = onError
    this.#onViewChange = onViewChange
  }

  async load(): Promise<void> {
    for (const row of await this.#store.list()) this.#remember(row)
    const raw = await this.#meta.get(BANS_KEY)
    const stored = raw === undefined ? {} : (JSON.parse(raw) as Record<string, unknown>)
    for (const [id, v] of Object.entries(stored)) {
      const r = v as { kind?: string; domain?: string }
      const ban = banFrom(r.kind ?? null, r.domain ?? null)
      if (ban) this.#bans.set(Number(id), ban)
    }
    // Hosts banned before ban reasons were stored as data: a domain ban left its reason only in
    // the status text. Read once here and stored, so unbanning that domain releases them.
    let upgraded = false
    for (const row of this.#byId.values()) {
      if (row.status !== 'banned' || this.#bans.has(row.id)) continue
      const domain = /^domain (\S+) is banned$/.exec(row.statusReason ?? '')?.[1]
      this.#bans.set(row.id, domain ? { kind: 'domain', domain } : { kind: 'operator' })
      upgraded = true
    }
    if (upgraded) await this.#meta.set(BANS_KEY, JSON.stringify(Object.fromEntries(this.#bans)))
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

  ingestView(id: number): HostIngestView | undefined {
    return this.#views.get(id)
  }

  /** Why a banned host is banned (an operator, when no reason was stored). */
  ban(id: number): BanReason | null {
    const row = this.#byId.get(id)
    if (row?.status !== 'banned') return null
    return this.#bans.get(id) ?? { kind: 'operator' }
  }

  async create(host: NewHost): Promise<HostRow> {
    const row = await this.#store.create(host)
    this.#remember(row)
    return row
  }

  /** Applies a patch in memory at once, then in the database. */
  async update(id: number, patch: HostPatch): Promise<void> {
    const row = this.#byId.get(id)
    if (!row) return
    this.#remember({ ...row, ...patch })
    await this.#write(id, Object.keys(patch) as (keyof HostPatch)[])
  }

  /**
   * Resolves when the host's row is stored as it is in memory, except the fields written with
   * the checkpoint (account count, ratchet counter): waits for its newest write, and writes again
   * the fields an earlier failed write left out. Rejects when a write fails.
   */
  async written(id: number): Promise<void> {
    await this.#writes.get(id)
    if (this.#unwritten.has(id)) await this.#write(id, [])
  }

  /** Resolves when every row write made so far is done. */
  async allWritten(): Promise<void> {
    await Promise.all([...this.#writes.values()].map((w) => w.catch(() => {})))
  }

  /** Stores (or, with null, forgets) why a host is banned. */
  async setBan(id: number, ban: BanReason | null): Promise<void> {
    if (ban) this.#bans.set(id, ban)
    else if (!this.#bans.delete(id)) return
    await this.#meta.set(BANS_KEY, JSON.stringify(Object.fromEntries(this.#bans)))
  }

  /**
   * A new sync-ratchet state: in memory at once; in the database at once on a transition, else
   * with the next checkpoint (the good-run counter moves with every commit of a lenient host, and
   * a crash losing a few seconds of it only makes the host prove itself a little longer).
   */
  setSyncState(id: number, state: SyncRatchetState): void {
    const row = this.#byId.get(id)
    if (!row) return
    this.#remember({
      ...row,
      syncMode: state.mode,
      syncEffective: state.effective,
      syncGoodRun: state.goodRun,
    })
    if (state.effective === row.syncEffective && state.mode === row.syncMode) {
      this.#dirtySync.add(id)
      return
    }
    this.#dirtySync.delete(id)
    this.#write(id, SYNC_FIELDS).catch((err: unknown) =>
      this.#onError(err, 'persisting sync state'),
    )
  }

  /** Seeds account counts (at start, from the account table). */
  setAccountCounts(counts: ReadonlyMap<number, number>): void {
    for (const row of this.list()) {
      const n = counts.get(row.id) ?? 0
      if (n === row.accountCount) continue
      this.#remember({ ...row, accountCount: n })
      this.#dirtyCounts.add(row.id)
    }
  }

  adjustAccountCount(id: number, delta: number): void {
    const row = this.#byId.get(id)
    if (!row || delta === 0) return
    this.#remember({ ...row, accountCount: Math.max(0, row.accountCount + delta) })
    this.#dirtyCounts.add(id)
  }

  /**
   * With each checkpoint: writes changed account counts and ratchet counters, and the fields of
   * any earlier row write that failed. Rejects with the first failure (what failed is tried
   * again next time).
   */
  async persistBatched(): Promise<void> {
    const fields = new Map<number, (keyof HostPatch)[]>()
    for (const id of this.#unwritten.keys()) fields.set(id, [])
    for (const id of this.#dirtyCounts) fields.set(id, ['accountCount'])
    for (const id of this.#dirtySync) fields.set(id, [...(fields.get(id) ?? []), ...SYNC_FIELDS])
    this.#dirtyCounts.clear()
    this.#dirtySync.clear()
    let failure: { error: unknown } | undefined
    for (const [id, f] of fields) {
      if (!this.#byId.has(id)) continue
      try {
        await this.#write(id, f)
      } catch (error) {
        failure ??= { error }
      }
    }
    if (failure) throw failure.error
  }

  /** Hosts created at or after `sinceMs` (the public per-day new-host limit). */
  countCreatedSince(sinceMs: number): Promise<number> {
    return this.#store.countCreatedSince(new Date(sinceMs).toISOString())
  }

  /**
   * Writes the named fields (and any left unwritten by a failure) with their values in memory
   * when the write starts: after the host's running write, joined with any write already waiting.
   */
  #write(id: number, fields: readonly (keyof HostPatch)[]): Promise<void> {
    const waiting = this.#waiting.get(id)
    if (waiting) {
      for (const f of fields) waiting.add(f)
      return this.#writes.get(id)!
    }
    const running = this.#writes.get(id)
    const all = new Set(fields)
    if (running) this.#waiting.set(id, all)
    const write = (running ?? Promise.resolve())
      .catch(() => {})
      .then(() => {
        this.#waiting.delete(id)
        return this.#writeNow(id, all)
      })
    this.#writes.set(id, write)
    const forget = () => {
      if (this.#writes.get(id) === write) this.#writes.delete(id)
    }
    write.then(forget, forget)
    return write
  }

  async #writeNow(id: number, fields: Set<keyof HostPatch>): Promise<void> {
    const row = this.#byId.get(id)
    if (!row) return
    for (const f of this.#unwritten.get(id)?.fields ?? []) fields.add(f)
    this.#unwritten.delete(id)
    const patch = Object.fromEntries([...fields].map((f) => [f, row[f]])) as HostPatch
    try {
      await this.#store.update(id, patch)
    } catch (error) {
      const earlier = this.#unwritten.get(id)?.fields ?? []
      this.#unwritten.set(id, { fields: new Set([...earlier, ...fields]), error })
      throw error
    }
  }

  #remember(row: HostRow): void {
    this.#byId.set(row.id, row)
    this.#byName.set(row.hostname, row.id)
    const before = this.#views.get(row.id)
    const banned = row.status === 'banned'
    // Whether events are judged as before (the ratchet's count aside).
    const judgedAlike =
      before !== undefined &&
      before.banned === banned &&
      before.sync.mode === row.syncMode &&
      before.sync.effective === row.syncEffective
    // The same view object while nothing in it changed (an account count, say): account shards
    // are sent a host's view again only when it is another object (shards/shard-threads.ts).
    if (
      judgedAlike &&
      before.hostname === row.hostname &&
      before.sync.goodRun === row.syncGoodRun
    ) {
      return
    }
    const view: HostIngestView = {
      id: row.id,
      hostname: row.hostname,
      banned,
      sync: { mode: row.syncMode, effective: row.syncEffective, goodRun: row.syncGoodRun },
    }
    this.#views.set(row.id, view)
    if (before !== undefined && !judgedAlike) this.#onViewChange(row.id)
  }
}
