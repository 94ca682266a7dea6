// Migration 0003_identity_age: an index on `identity.resolved_at`, so rows too old to be of any
// use (past the identity TTL and the day a stale identity may serve as a fallback) are found and
// deleted in small batches without reading the whole table (identity/stored-identities.ts).
// Deliberately not here: data. A shipped migration is never edited.

import type { Kysely } from 'kysely'

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createIndex('identity_resolved_at_idx')
    .on('identity')
    .column('resolved_at')
    .execute()
}
