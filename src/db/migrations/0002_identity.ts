// Migration 0002_identity: the `identity` table, each DID's identity as the relay last resolved
// it, so a restart (or an account the cache evicted) starts from it instead of asking the
// directory again (identity/stored-identities.ts says when it is trusted). `resolved_at` is
// milliseconds since the epoch. No index beyond the key: it is only read by DID.
// Deliberately not here: data. A shipped migration is never edited.

import type { Kysely } from 'kysely'

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('identity')
    .addColumn('did', 'text', (c) => c.primaryKey())
    .addColumn('pds', 'text')
    .addColumn('handle', 'text')
    .addColumn('key_type', 'text')
    .addColumn('key', 'text')
    .addColumn('resolved_at', 'bigint', (c) => c.notNull())
    .execute()
}
