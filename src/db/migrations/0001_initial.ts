// Migration 0001_initial: the host, account and meta tables and their indexes (schema.ts has
// the value conventions). Dialect-neutral apart from the auto-increment host id, whose syntax is
// the one thing SQLite and PostgreSQL spell differently.
// Deliberately not here: data. A shipped migration is never edited; later changes are new
// migrations appended to the list in index.ts.

import type { Kysely } from 'kysely'
import type { MigrationDialect } from './dialect.ts'

export async function up(db: Kysely<unknown>, dialect: MigrationDialect): Promise<void> {
  await db.schema
    .createTable('host')
    .addColumn('id', 'integer', (c) =>
      dialect === 'postgres'
        ? c.primaryKey().generatedByDefaultAsIdentity()
        : c.primaryKey().autoIncrement(),
    )
    .addColumn('hostname', 'text', (c) => c.notNull())
    .addColumn('ssl', 'integer', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('status_reason', 'text')
    .addColumn('cursor', 'bigint')
    .addColumn('account_limit', 'bigint', (c) => c.notNull())
    .addColumn('account_count', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('trusted', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('sync_mode', 'text')
    .addColumn('sync_effective', 'text', (c) => c.notNull().defaultTo('lenient'))
    .addColumn('sync_good_run', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('per_second', 'bigint')
    .addColumn('per_hour', 'bigint')
    .addColumn('per_day', 'bigint')
    .addColumn('crawl_rate', 'bigint')
    .addColumn('last_error', 'text')
    .addColumn('last_error_at', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('host_hostname_unique', ['hostname'])
    .execute()
  await db.schema.createIndex('host_created_at_idx').on('host').column('created_at').execute()

  await db.schema
    .createTable('account')
    .addColumn('did', 'text', (c) => c.primaryKey())
    .addColumn('host_id', 'integer', (c) => c.notNull().references('host.id'))
    .addColumn('local_status', 'text', (c) => c.notNull())
    .addColumn('upstream_status', 'text', (c) => c.notNull())
    .addColumn('rev', 'text')
    .addColumn('commit_cid', 'text')
    .addColumn('data_cid', 'text')
    .addColumn('handle', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute()
  // Paging by DID (listRepos) is served by the primary key. This one index serves the per-host
  // queries: count by host (prefix host_id), and a host's accounts in one local status oldest
  // first ("un-throttle the oldest throttled accounts"), without a second index to maintain on
  // the upsert hot path.
  await db.schema
    .createIndex('account_host_status_created_idx')
    .on('account')
    .columns(['host_id', 'local_status', 'created_at'])
    .execute()

  await db.schema
    .createTable('meta')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('value', 'text', (c) => c.notNull())
    .execute()
}
