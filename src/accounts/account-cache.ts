// Account state kept in memory and written to the database in batches (docs/design.md §3). Reads go
// to memory first, then to the store; changes are made in memory and marked dirty with the log
// seq of the event that caused them. A batch write takes a snapshot of the dirty states together
// with the log seq they are consistent with (the checkpoint): after a crash, state is recovered
// by replaying the event log after the last checkpoint (recovery.ts).
// Bound: at most `maxEntries` clean states are kept (least recently used are evicted); dirty
// states are never evicted before they are written, so the writer must run regularly (the
// cache reports `dirtyCount` so the caller can write early when it grows).
import type { AccountState } from './account-state.ts'

/** What the cache needs from the database: one read, one atomic batch write. */
export interface AccountPersistence {
  load(did: string): Promise<AccountState | undefined>
  /** Writes the states and the checkpoint seq in one transaction. */
  save(states: readonly AccountState[], checkpointSeq: number): Promise<void>
}

export interface AccountSnapshot {
  readonly states: readonly AccountState[]
  readonly checkpointSeq: number
}

export class AccountCache {
  readonly #store: AccountPersistence
  readonly #maxEntries: number
  /** LRU order: Map iteration order, refreshed on access. */
  readonly #states = new Map<string, AccountState>()
  readonly #dirty = new Map<string, number>()
  readonly #loading = new Map<string, Promise<AccountState | undefined>>()

  constructor(store: AccountPersistence, opts: { maxEntries: number }) {
    this.#store = store
    this.#maxEntries = Math.max(1, opts.maxEntries)
  }

  get size(): number {
    return this.#states.size
  }

  get dirtyCount(): number {
    return this.#dirty.size
  }

  /** The state in memory, without I/O (undefined when not cached). */
  peek(did: string): AccountState | undefined {
    return this.#states.get(did)
  }

  async get(did: string): Promise<AccountState | undefined> {
    const cached = this.#states.get(did)
    if (cached) {
      this.#states.delete(did)
      this.#states.set(did, cached)
      return cached
    }
    let loading = this.#loading.get(did)
    if (!loading) {
      loading = this.#store.load(did).finally(() => this.#loading.delete(did))
      this.#loading.set(did, loading)
    }
    const loaded = await loading
    // A `set` may have happened while loading: memory wins.
    const now = this.#states.get(did)
    if (now) return now
    if (loaded) this.#remember(loaded)
    return loaded
  }

  /** Records a new state caused by the log record `seq` (0 for changes not in the log). */
  set(state: AccountState, seq: number): void {
    this.#states.delete(state.did)
    this.#remember(state)
    this.#dirty.set(state.did, Math.max(seq, this.#dirty.get(state.did) ?? 0))
  }

  /** Takes every dirty state, consistent with log seq `checkpointSeq` (the log's last seq now). */
  takeSnapshot(checkpointSeq: number): AccountSnapshot {
    const states: AccountState[] = []
    for (const did of this.#dirty.keys()) {
      const s = this.#states.get(did)
      if (s) states.push(s)
    }
    this.#dirty.clear()
    return { states, checkpointSeq }
  }

  /** After a failed write: mark the snapshot's states dirty again unless they changed since. */
  restore(snapshot: AccountSnapshot): void {
    for (const s of snapshot.states) {
      if (this.#states.get(s.did) === s && !this.#dirty.has(s.did))
        this.#dirty.set(s.did, snapshot.checkpointSeq)
    }
  }

  async write(checkpointSeq: number, beforeSave?: () => Promise<void>): Promise<number> {
    const snapshot = this.takeSnapshot(checkpointSeq)
    try {
      await beforeSave?.()
      await this.#store.save(snapshot.states, snapshot.checkpointSeq)
    } catch (err) {
      this.restore(snapshot)
      throw err
    }
    this.#evict()
    return snapshot.states.length
  }

  #remember(state: AccountState): void {
    this.#states.set(state.did, state)
    this.#evict()
  }

  #evict(): void {
    if (this.#states.size <= this.#maxEntries) return
    for (const did of this.#states.keys()) {
      if (this.#states.size <= this.#maxEntries) break
      if (!this.#dirty.has(did)) this.#states.delete(did)
    }
  }
}
