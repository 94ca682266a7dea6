// Identities kept across restarts. The identity cache (cache.ts) asks here when it holds nothing
// for a DID (after a restart, or once it evicted the DID), and tells here what the directory
// answered; what it was told is written to the `identity` table with each checkpoint.
// Why: without it, every account's first event after a restart waits for a DID document (the
// relay's CPU for each, and the directory's load: every active account within the first hour),
// and while the directory is unreachable after a restart there is no last known identity to fall
// back on, so events of every account not seen since the start are dropped.
// What is trusted: a stored identity is what the directory last answered, with when. The cache
// applies to it the times it applies to one it resolved itself: fresh for the TTL after it was
// resolved (never later than now), then a fallback while a refresh fails, up to max-stale. A
// purge (a host said the identity changed, a signature failed) or a "not found" deletes the row
// with the next checkpoint. A crash loses what changed since the last checkpoint, as it does for
// account states: a doubted identity brought back so is trusted for the rest of its TTL at most,
// and any mismatch (a signature that fails, an event from another host) resolves it again at once,
// as it would in memory.
// Bounded: at most MAX_PENDING identities and as many forgets wait for the next write (a database
// outage), the oldest dropped past it, counted (`dropped`): a stored identity only saves a lookup,
// and the cache asks to forget only where a row may exist. A read that fails rejects; the cache
// counts it and asks the directory, as without this.
// Rows resolved longer ago than the TTL and max-stale are of no use; `prune` deletes them, once an
// hour at most, so the table holds the DIDs resolved within about a day, not every DID ever seen.
// Deliberately not here: the times (cache.ts), SQL (db/identities.ts), when writes happen (the
// checkpoint calls `flush` and `prune`).

import type { IdentityRow } from '../db/identities.ts'
import { repeatPaced, SAVE_BATCH_ROWS, type SavePace, saveInBatches } from '../db/paced-save.ts'
import type { Identity } from './did-document.ts'
import { sharedEndpoint } from './pds-endpoints.ts'

/** An identity as stored: what the directory answered, and when (ms since the epoch). */
export interface StoredIdentity {
  readonly identity: Identity
  readonly resolvedAt: number
}

/** What the identity cache needs from the store. */
export interface IdentityMemory {
  /** The stored identity (a change not written yet included); rejects when the table fails. */
  load(did: string): Promise<StoredIdentity | undefined>
  /** To be written with the next checkpoint. */
  remember(identity: Identity, resolvedAt: number): void
  /** The DID's row is to be deleted (before any identity remembered for it later is written). */
  forget(did: string): void
  /** Changes dropped to stay within the bound so far (a database outage). */
  readonly dropped: number
}

/** The table's operations this needs (db/identities.ts). */
export interface IdentityRows {
  get(did: string): Promise<IdentityRow | undefined>
  upsertMany(rows: readonly IdentityRow[]): Promise<void>
  deleteMany(dids: readonly string[]): Promise<void>
  deleteResolvedBefore(cutoff: number, limit: number): Promise<number>
}

/** How often `prune` deletes what is too old, at most. */
export const PRUNE_EVERY_MS = 3_600_000

/** Identities waiting for the next write, at most (about 150 bytes each). */
export const MAX_PENDING = 200_000

/** What waits for the next write; a flush takes it whole. */
interface Changes {
  /** DID → the identity to write; oldest first. */
  readonly remembered: Map<string, StoredIdentity>
  /** DIDs whose rows are to be deleted, before the identities above are written. */
  readonly forgotten: Set<string>
}

const noChanges = (): Changes => ({ remembered: new Map(), forgotten: new Set() })

export class StoredIdentities implements IdentityMemory {
  readonly #rows: IdentityRows
  readonly #maxPending: number
  #pending: Changes = noChanges()
  /** The changes a flush is writing: read as the table's until it has written them. */
  #writing: Changes | undefined
  #dropped = 0
  readonly #maxAgeMs: number | undefined
  readonly #now: () => number
  #prunedAt = Number.NEGATIVE_INFINITY

  constructor(
    rows: IdentityRows,
    options: {
      maxPending?: number
      /** Rows resolved longer ago than this are of no use (the TTL and max-stale); `prune`. */
      maxAgeMs?: number
      now?: () => number
    } = {},
  ) {
    this.#rows = rows
    this.#maxPending = options.maxPending ?? MAX_PENDING
    this.#maxAgeMs = options.maxAgeMs
    this.#now = options.now ?? Date.now
  }

  get dropped(): number {
    return this.#dropped
  }

  /** Changes waiting for the next write. */
  get pending(): number {
    return this.#pending.remembered.size + this.#pending.forgotten.size
  }

  async load(did: string): Promise<StoredIdentity | undefined> {
    // Changes not written yet are what the table will hold: the newest first.
    for (const changes of [this.#pending, this.#writing]) {
      if (changes === undefined) continue
      const remembered = changes.remembered.get(did)
      if (remembered !== undefined) return remembered
      if (changes.forgotten.has(did)) return undefined
    }
    const row = await this.#rows.get(did)
    return row === undefined ? undefined : fromRow(row)
  }

  remember(identity: Identity, resolvedAt: number): void {
    const { remembered } = this.#pending
    remembered.delete(identity.did)
    remembered.set(identity.did, { identity, resolvedAt })
    this.#bound(remembered)
  }

  forget(did: string): void {
    const { remembered, forgotten } = this.#pending
    remembered.delete(did)
    forgotten.delete(did)
    forgotten.add(did)
    this.#bound(forgotten)
  }

  /** Past MAX_PENDING, the oldest change of its kind goes, counted. */
  #bound(changes: Map<string, StoredIdentity> | Set<string>): void {
    if (changes.size <= this.#maxPending) return
    const oldest = changes.keys().next().value
    if (oldest !== undefined) changes.delete(oldest)
    this.#dropped++
  }

  /**
   * Deletes the rows too old to be used (`maxAgeMs`), SAVE_BATCH_ROWS to a statement with a
   * pause after each as long as it took (`pace`), at most once every PRUNE_EVERY_MS; how many.
   * Without it the table would keep every DID ever resolved, those a hostile host named too.
   */
  async prune(pace: SavePace): Promise<number> {
    const maxAge = this.#maxAgeMs
    const now = this.#now()
    if (maxAge === undefined || now - this.#prunedAt < PRUNE_EVERY_MS) return 0
    this.#prunedAt = now
    let total = 0
    await repeatPaced(pace, async () => {
      const n = await this.#rows.deleteResolvedBefore(now - maxAge, SAVE_BATCH_ROWS)
      total += n
      return n === SAVE_BATCH_ROWS
    })
    return total
  }

  /**
   * Writes the waiting changes: the deletes, then the identities (`pace`: db/paced-save.ts). A
   * failed write keeps every change not superseded since for the next flush, and rejects.
   */
  async flush(pace: SavePace): Promise<void> {
    if (this.pending === 0 || this.#writing !== undefined) return
    const taken = this.#pending
    this.#pending = noChanges()
    this.#writing = taken
    try {
      if (taken.forgotten.size > 0) await this.#rows.deleteMany([...taken.forgotten])
      const rows = [...taken.remembered.values()].map(toRow)
      await saveInBatches(rows, 0, pace, { writeBatch: (batch) => this.#rows.upsertMany(batch) })
    } catch (err) {
      // Back under the newer changes made meanwhile, which win.
      const newer = this.#pending
      this.#pending = taken
      for (const did of newer.forgotten) this.forget(did)
      for (const change of newer.remembered.values()) {
        this.remember(change.identity, change.resolvedAt)
      }
      throw err
    } finally {
      this.#writing = undefined
    }
  }
}

function toRow({ identity, resolvedAt }: StoredIdentity): IdentityRow {
  return {
    did: identity.did,
    pds: identity.pds,
    handle: identity.handle,
    key_type: identity.signingKey?.type ?? null,
    key: identity.signingKey?.publicKeyMultibase ?? null,
    resolved_at: resolvedAt,
  }
}

function fromRow(row: IdentityRow): StoredIdentity {
  return {
    identity: {
      did: row.did,
      pds: row.pds === null ? null : sharedEndpoint(row.pds),
      handle: row.handle,
      signingKey:
        row.key_type === null || row.key === null
          ? null
          : { type: row.key_type, publicKeyMultibase: row.key },
    },
    resolvedAt: Number(row.resolved_at),
  }
}
