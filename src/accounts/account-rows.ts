// The account store as the account cache sees it: AccountState values in, database rows out,
// and the batch write with its checkpoint in one transaction.
import type { RelayDatabase } from '../db/database.ts'
import { ACCOUNTS_CHECKPOINT_KEY } from '../ingest/checkpoint.ts'
import type { AccountPersistence } from './account-cache.ts'
import type { AccountState } from './account-state.ts'

export function accountPersistence(db: RelayDatabase): AccountPersistence {
  return {
    load: async (did) => {
      const row = await db.accounts.get(did)
      return row ? fromRow(row) : undefined
    },
    save: (states, seq) =>
      db.transaction(async (s) => {
        await s.accounts.upsertMany(states.map(toRow))
        await s.meta.set(ACCOUNTS_CHECKPOINT_KEY, String(seq))
      }),
  }
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
