// Account state kept in memory and written to the database in batches (docs/design.md §3). Reads go
// to memory first, then to the store; changes are made in memory and marked dirty with the log
// seq of the event that caused them. A batch write takes a snapshot of the dirty states together
// with the log seq they are consistent with (the checkpoint): after a crash, state is recovered
// by replaying the event log after the last checkpoint (recovery.ts).
// Bound: at most `maxEntries` states are cached (the least recently used are evicted first:
// runtime/bounded-cache.ts), plus the states changed since the last write, which are held apart
// until they are written, so the writer must run regularly (the cache reports `dirtyCount` so
// the caller can write early when it grows), and those of a snapshot being written, which stay
// readable until the write ends: the store has them only then (a write is paced over many turns
// of the loop: paced-save.ts), so an evicted one read back from it meanwhile would be stale.

import type { SavePace } from '../db/paced-save.ts'
import { BoundedCache } from '../runtime/bounded-cache.ts'
import type { AccountState } from './account-state.ts'

/** What the cache needs from the database: one read, one batch write with its checkpoint. */
export interface AccountPersistence {
  load(did: string): Promise<AccountState | undefined>
  /** Writes the states, then the checkpoint seq (`pace`: see paced-save.ts). */
  save(states: readonly AccountState[], checkpointSeq: number, pace: SavePace): Promise<void>
}

export interface AccountSnapshot {
  readonly states: readonly AccountState[]
  readonly checkpointSeq: number
}

export class AccountCache {
  readonly #store: AccountPersistence
  readonly #states: BoundedCache<AccountState>
  /** States changed since the last snapshot: kept here whatever the cache forgets. */
  #unwritten = new Map<string, AccountState>()
  /** The states of each snapshot taken and not yet written or restored (normally one). */
  #writing = new Map<readonly AccountState[], Map<string, AccountState>>()
  readonly #loading = new Map<string, Promise<AccountState | undefined>>()

  constructor(store: AccountPersistence, opts: { maxEntries: number }) {
    this.#store = store
    this.#states = new BoundedCache(Math.max(1, opts.maxEntries))
  }

  get size(): number {
    return this.#states.size
  }

  get dirtyCount(): number {
    return this.#unwritten.size
  }

  /** The state in memory, without I/O (undefined when not cached). */
  peek(did: string): AccountState | undefined {
    return this.#states.peek(did) ?? this.#unwritten.get(did) ?? this.#beingWritten(did)
  }

  async get(did: string): Promise<AccountState | undefined> {
    const cached = this.#states.get(did)
    if (cached) return cached
    const unwritten = this.#unwritten.get(did) ?? this.#beingWritten(did)
    if (unwritten) {
      this.#states.set(unwritten.did, unwritten)
      return unwritten
    }
    let loading = this.#loading.get(did)
    if (!loading) {
      loading = this.#store.load(did).finally(() => this.#loading.delete(did))
      this.#loading.set(did, loading)
    }
    const loaded = await loading
    // A `set` may have happened while loading: memory wins.
    const now = this.peek(did)
    if (now) return now
    // Keyed by the state's own DID string: the caller's (an event's) would be a second copy.
    if (loaded) this.#states.set(loaded.did, loaded)
    return loaded
  }

  /**
   * Records a new state caused by the log record `_seq` (0 for changes not in the log). The seq is
   * not kept: a write's checkpoint is the log's last seq when its snapshot is taken.
   */
  set(state: AccountState, _seq: number): void {
    this.#states.set(state.did, state)
    this.#unwritten.set(state.did, state)
  }

  /** Takes every changed state, consistent with log seq `checkpointSeq` (the log's last seq now). */
  takeSnapshot(checkpointSeq: number): AccountSnapshot {
    const taken = this.#unwritten
    const states = [...taken.values()]
    this.#unwritten = new Map()
    if (states.length > 0) this.#writing.set(states, taken)
    return { states, checkpointSeq }
  }

  /**
   * After a failed write: the snapshot's states are unwritten again, unless changed since (the
   * newer state is then the one to write).
   */
  restore(snapshot: AccountSnapshot): void {
    this.#writing.delete(snapshot.states)
    for (const s of snapshot.states) {
      if (!this.#unwritten.has(s.did)) this.#unwritten.set(s.did, s)
    }
  }

  /**
   * Takes a snapshot, runs `beforeSave` (the log's sync) and writes it: paced unless `pace` says
   * otherwise (recovery at start, where nothing waits).
   */
  async write(
    checkpointSeq: number,
    beforeSave?: () => Promise<void>,
    pace: SavePace = 'paced',
  ): Promise<number> {
    const snapshot = this.takeSnapshot(checkpointSeq)
    try {
      await beforeSave?.()
    } catch (err) {
      this.restore(snapshot)
      throw err
    }
    return this.writeSnapshot(snapshot, pace)
  }

  /**
   * Writes a snapshot taken earlier (its `states` as `takeSnapshot` gave them, the seq may be
   * set since); its states are unwritten again if that fails.
   */
  async writeSnapshot(snapshot: AccountSnapshot, pace: SavePace = 'paced'): Promise<number> {
    try {
      await this.#store.save(snapshot.states, snapshot.checkpointSeq, pace)
    } catch (err) {
      this.restore(snapshot)
      throw err
    }
    this.#writing.delete(snapshot.states)
    return snapshot.states.length
  }

  /** The state `did` has in a snapshot being written (the newest such snapshot's). */
  #beingWritten(did: string): AccountState | undefined {
    if (this.#writing.size === 0) return undefined
    let found: AccountState | undefined
    for (const states of this.#writing.values()) found = states.get(did) ?? found
    return found
  }
}
