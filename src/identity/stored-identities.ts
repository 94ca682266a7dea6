// Identities kept across restarts. The identity cache (cache.ts) asks here when it holds nothing
// for a DID (after a restart, or once it evicted the DID), and tells here what the directory
// answered; what it was told is written to the `identity` table with each checkpoint.
// Why: without it, every account's first event after a restart waits for a DID document (the
// relay's CPU for each, and the directory's load: every active account within the first hour),
// and while the directory is unreachable after a restart there is no last known identity to fall
// back on, so events of every account not seen since the start are dropped.
// What is trusted: a stored identity is what the directory last answered, with when. The cache
// applies to it the times it applies to one it resolved itself: fresh for the TTL after it was
// resolved, then a fallback while a refresh fails, up to max-stale. A purge (a host said the
// identity changed, a signature failed) or a "not found" forgets the row too, so a restart never
// brings back an identity the relay had reason to doubt.
// Bounded: at most MAX_PENDING changes wait for the next write, the oldest dropped past it
// (counted): a stored identity only saves a lookup. A read that fails is a miss (the directory is
// asked, as without this), counted.
// Deliberately not here: the times (cache.ts), SQL (db/identities.ts), when writes happen (the
// checkpoint calls `flush`).

import { type SavePace, saveInBatches } from '../accounts/paced-save.ts'
import type { IdentityRow } from '../db/identities.ts'
import type { Identity } from './did-document.ts'
import { sharedEndpoint } from './pds-endpoints.ts'

/** An identity as stored: what the directory answered, and when (ms since the epoch). */
export interface StoredIdentity {
  readonly identity: Identity
  readonly resolvedAt: number
}

/** What the identity cache needs from the store. */
export interface IdentityMemory {
  load(did: string): Promise<StoredIdentity | undefined>
  remember(identity: Identity, resolvedAt: number): void
  forget(did: string): void
}

/** The table's operations this needs (db/identities.ts). */
export interface IdentityRows {
  get(did: string): Promise<IdentityRow | undefined>
  upsertMany(rows: readonly IdentityRow[]): Promise<void>
  deleteMany(dids: readonly string[]): Promise<void>
}

/** Changes waiting for the next write, at most (about 150 bytes each). */
export const MAX_PENDING = 200_000

export class StoredIdentities implements IdentityMemory {
  readonly #rows: IdentityRows
  /** DID → the identity to write, or null to delete its row; oldest first. */
  #pending = new Map<string, StoredIdentity | null>()
  readonly #maxPending: number
  readonly counts = { loaded: 0, loadFailures: 0, droppedPending: 0 }

  constructor(rows: IdentityRows, options: { maxPending?: number } = {}) {
    this.#rows = rows
    this.#maxPending = options.maxPending ?? MAX_PENDING
  }

  get pending(): number {
    return this.#pending.size
  }

  async load(did: string): Promise<StoredIdentity | undefined> {
    // A change not written yet is what the table will hold.
    const waiting = this.#pending.get(did)
    if (waiting !== undefined) return waiting ?? undefined
    let row: IdentityRow | undefined
    try {
      row = await this.#rows.get(did)
    } catch {
      this.counts.loadFailures++
      return undefined
    }
    if (row === undefined) return undefined
    this.counts.loaded++
    return fromRow(row)
  }

  remember(identity: Identity, resolvedAt: number): void {
    this.#set(identity.did, { identity, resolvedAt })
  }

  forget(did: string): void {
    this.#set(did, null)
  }

  /**
   * Writes the waiting changes (`pace`: paced-save.ts). A failed write keeps every change not
   * made again since, for the next flush, and rejects.
   */
  async flush(pace: SavePace): Promise<void> {
    if (this.#pending.size === 0) return
    const taken = this.#pending
    this.#pending = new Map()
    const upserts: IdentityRow[] = []
    const deletes: string[] = []
    for (const [did, change] of taken) {
      if (change === null) deletes.push(did)
      else upserts.push(toRow(change))
    }
    try {
      if (deletes.length > 0) await this.#rows.deleteMany(deletes)
      await saveInBatches(upserts, 0, pace, {
        writeBatch: (batch) => this.#rows.upsertMany(batch),
      })
    } catch (err) {
      // Written again next time, unless a newer change of the same DID came meanwhile.
      for (const [did, change] of taken) if (!this.#pending.has(did)) this.#set(did, change)
      throw err
    }
  }

  #set(did: string, change: StoredIdentity | null): void {
    this.#pending.delete(did)
    this.#pending.set(did, change)
    if (this.#pending.size <= this.#maxPending) return
    const oldest = this.#pending.keys().next().value
    if (oldest !== undefined) this.#pending.delete(oldest)
    this.counts.droppedPending++
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
