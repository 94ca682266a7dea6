// Archival mode's migrations, recorded apart from the relay's (`archive_migration`), so a relay
// that never turns archival mode on never creates these tables. Same rule as the relay's list:
// append, never edit a shipped entry.
// PostgreSQL keeps `repo_block` in ARCHIVE_PARTITIONS hash partitions by repo id: each partition
// is an ordinary table an operator can place on its own tablespace or vacuum on its own, and a
// repo's blocks always sit in one partition (every query names the repo). SQLite keeps it as one
// WITHOUT ROWID table clustered on (repo, cid), so a repo's blocks are contiguous on disk.
import { type Kysely, sql } from 'kysely'
import type { MigrationDialect, MigrationSet } from '../db/migrations/index.ts'

/** How many hash partitions hold `repo_block` on PostgreSQL. */
export const ARCHIVE_PARTITIONS = 16

async function initial(db: Kysely<unknown>, dialect: MigrationDialect): Promise<void> {
  const bytes = dialect === 'postgres' ? 'bytea' : 'blob'
  await db.schema
    .createTable('repo')
    .addColumn('id', 'integer', (c) =>
      dialect === 'postgres'
        ? c.primaryKey().generatedByDefaultAsIdentity()
        : c.primaryKey().autoIncrement(),
    )
    .addColumn('did', 'text', (c) => c.notNull().unique())
    .addColumn('rev', 'text', (c) => c.notNull())
    .addColumn('commit_cid', 'text', (c) => c.notNull())
    .addColumn('data_cid', 'text', (c) => c.notNull())
    .addColumn('commit_block', bytes, (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute()

  if (dialect === 'postgres') {
    await sql`create table repo_block (
      repo_id integer not null,
      cid bytea not null,
      rev text not null,
      refs integer not null,
      data bytea not null,
      primary key (repo_id, cid)
    ) partition by hash (repo_id)`.execute(db)
    for (let i = 0; i < ARCHIVE_PARTITIONS; i++) {
      await sql
        .raw(
          `create table repo_block_p${i} partition of repo_block for values with (modulus ${ARCHIVE_PARTITIONS}, remainder ${i})`,
        )
        .execute(db)
    }
  } else {
    await sql`create table repo_block (
      repo_id integer not null,
      cid blob not null,
      rev text not null,
      refs integer not null,
      data blob not null,
      primary key (repo_id, cid)
    ) without rowid`.execute(db)
  }
}

export const ARCHIVE_MIGRATIONS: MigrationSet = {
  list: [{ name: 'archive_0001_initial', up: initial }],
  table: 'archive_migration',
  lockTable: 'archive_migration_lock',
}
