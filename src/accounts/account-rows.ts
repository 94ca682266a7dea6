// The account store as the rest of the relay sees it: AccountState values in and out (database
// rows stay in db/), the batch write with its checkpoint (paced transactions, the checkpoint with
// the last: paced-save.ts), and the reads the API and the account operations need (a page of
// accounts with a head, a host's oldest throttled accounts, the taken-down ones, slot counts per
// host).
import type { RelayDatabase } from '../db/database.ts'
import type { MetaStore } from '../db/meta.ts'
import { saveInBatches } from '../db/paced-save.ts'
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
    // In DID order: each batch then finds its rows in one part of the DID index, where batches of
    // states in the order they changed would each rewrite pages all over it (a 50,000-state
    // checkpoint cost 1.3 s of CPU in batches so, 0.5 s sorted: account-checkpoint.bench.ts).
    save: (states, seq, pace) =>
      saveInBatches(inDidOrder(states), seq, pace, {
        writeBatch: (batch, checkpointSeq) =>
          db.transaction(async (s) => {
            await s.accounts.upsertMany(batch.map(toRow))
            if (checkpointSeq !== null) await setCheckpoint(s.meta, scope, checkpointSeq)
          }),
      }),
  }
}

/** The states sorted by DID (by UTF-16 code unit, which for a DID's ASCII is SQLite's order). */
function inDidOrder(states: readonly AccountState[]): readonly AccountState[] {
  return [...states].sort((a, b) => (a.did < b.did ? -1 : a.did > b.did ? 1 : 0))
}

/** Sets the checkpoints `scope` names to `seq`. */
async function setCheckpoint(meta: MetaStore, scope: CheckpointScope, seq: number): Promise<void> {
  if ('shard' in scope) return meta.set(shardCheckpointKey(scope.shard), String(seq))
  if (scope.shards === 0) {
    await meta.set(ACCOUNTS_CHECKPOINT_KEY, String(seq))
    return meta.delete(ACCOUNT_SHARDS_KEY)
  }
  for (let i = 0; i < scope.shards; i++) await meta.set(shardCheckpointKey(i), String(seq))
  await meta.set(ACCOUNT_SHARDS_KEY, String(scope.shards))
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
