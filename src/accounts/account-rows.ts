// The account store as the rest of the relay sees it: AccountState values in and out (database
// rows stay in db/), the batch write with its checkpoint in one transaction, and the reads the
// API and the account operations need (a page of accounts with a head, a host's oldest throttled
// accounts, the taken-down ones, slot counts per host).
import type { RelayDatabase } from '../db/database.ts'
import type { AccountPersistence } from './account-cache.ts'
import type { AccountState } from './account-state.ts'

/** The meta key of the log seq the stored account states are consistent with. */
export const ACCOUNTS_CHECKPOINT_KEY = 'accounts_checkpoint_seq'
/**
 * With account shards: how many there were when the checkpoints were written. Each shard then
 * has a checkpoint of its own (`shardCheckpointKey`), and the plain key is not used.
 */
export const ACCOUNT_SHARDS_KEY = 'account_shards'
export const shardCheckpointKey = (shard: number): string => `${ACCOUNTS_CHECKPOINT_KEY}.${shard}`

/**
 * Which checkpoints a write sets: every account's (`shards` shards, 0 for none: the layout is
 * stored with them), or one shard's own (`shard`).
 */
export type CheckpointScope = { readonly shards: number } | { readonly shard: number }

export function accountPersistence(
  db: RelayDatabase,
  scope: CheckpointScope = { shards: 0 },
): AccountPersistence {
  return {
    load: async (did) => {
      const row = await db.accounts.get(did)
      return row ? fromRow(row) : undefined
    },
    save: (states, seq) =>
      db.transaction(async (s) => {
        await s.accounts.upsertMany(states.map(toRow))
        if ('shard' in scope) return s.meta.set(shardCheckpointKey(scope.shard), String(seq))
        if (scope.shards === 0) {
          await s.meta.set(ACCOUNTS_CHECKPOINT_KEY, String(seq))
          return s.meta.delete(ACCOUNT_SHARDS_KEY)
        }
        for (let i = 0; i < scope.shards; i++) {
          await s.meta.set(shardCheckpointKey(i), String(seq))
        }
        await s.meta.set(ACCOUNT_SHARDS_KEY, String(scope.shards))
      }),
  }
}

/** Stored accounts with a known head and rev (what listRepos may show), by DID. */
export async function accountsWithHead(
  db: RelayDatabase,
  afterDid: string | null,
  limit: number,
): Promise<AccountState[]> {
  return (await db.accounts.listPage(afterDid, limit, { withCommit: true })).map(fromRow)
}

/** The DIDs of a host's throttled accounts, oldest first. */
export async function oldestThrottled(
  db: RelayDatabase,
  hostId: number,
  limit: number,
): Promise<string[]> {
  return (await db.accounts.listByHostStatus(hostId, 'throttled', limit)).map((r) => r.did)
}

/** Per host, how many accounts take one of its account slots (seeds the in-memory counts). */
export function slotCountsByHost(db: RelayDatabase): Promise<Map<number, number>> {
  return db.accounts.countSlotsByHost()
}

/** A page of the taken-down accounts' DIDs, by DID (loads the takedown set at start). */
export async function takenDownPage(
  db: RelayDatabase,
  afterDid: string | null,
  limit: number,
): Promise<{ did: string }[]> {
  return (await db.accounts.listByLocalStatus('takendown', afterDid, limit)).map((r) => ({
    did: r.did,
  }))
}

export function fromRow(
  row: Awaited<ReturnType<RelayDatabase['accounts']['get']>> & object,
): AccountState {
  return {
    did: row.did,
    hostId: row.hostId,
    localStatus: row.localStatus,
    upstreamStatus: row.upstreamStatus,
    rev: row.rev,
    commitCid: row.commitCid,
    dataCid: row.dataCid,
    handle: row.handle,
    createdAt: Date.parse(row.createdAt),
    updatedAt: Date.parse(row.updatedAt),
  }
}

export function toRow(s: AccountState) {
  return {
    did: s.did,
    hostId: s.hostId,
    localStatus: s.localStatus,
    upstreamStatus: s.upstreamStatus as never,
    rev: s.rev,
    commitCid: s.commitCid,
    dataCid: s.dataCid,
    handle: s.handle,
    createdAt: new Date(s.createdAt).toISOString(),
    updatedAt: new Date(s.updatedAt).toISOString(),
  }
}
