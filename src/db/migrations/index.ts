// The schema migrations, as a static list in code: names and order are explicit and stable
// (no filesystem scanning), and Kysely's Migrator runs them in exactly this order, recording
// each in its `kysely_migration` table so reopening a database runs nothing twice.
// To change the schema, append a new entry; never edit or reorder a shipped one.
// Deliberately not here: opening connections (database.ts) or any data.

import type { Kysely } from 'kysely'
import { type Migration, type MigrationProvider, Migrator } from 'kysely/migration'
import { classifyDriverError, DatabaseError } from '../errors.ts'
import { up as initial } from './0001_initial.ts'
import { up as identity } from './0002_identity.ts'
import { up as identityAge } from './0003_identity_age.ts'
import type { MigrationDialect } from './dialect.ts'

export type { MigrationDialect } from './dialect.ts'

export interface MigrationEntry {
  readonly name: string
  readonly up: (db: Kysely<unknown>, dialect: MigrationDialect) => Promise<void>
}

const MIGRATIONS: readonly MigrationEntry[] = [
  { name: '0001_initial', up: initial },
  { name: '0002_identity', up: identity },
  { name: '0003_identity_age', up: identityAge },
]

/** Every migration name, in the order they run. */
export const MIGRATION_NAMES: readonly string[] = MIGRATIONS.map((m) => m.name)

class StaticMigrationProvider implements MigrationProvider {
  readonly #dialect: MigrationDialect
  readonly #list: readonly MigrationEntry[]

  constructor(dialect: MigrationDialect, list: readonly MigrationEntry[]) {
    this.#dialect = dialect
    this.#list = list
  }

  async getMigrations(): Promise<Record<string, Migration>> {
    const out: Record<string, Migration> = {}
    for (const m of this.#list) out[m.name] = { up: (db) => m.up(db, this.#dialect) }
    return out
  }
}

/** A list of migrations other than the relay's own (archival mode's), and where it records them. */
export interface MigrationSet {
  readonly list: readonly MigrationEntry[]
  /** Kysely's bookkeeping tables for this list. */
  readonly table: string
  readonly lockTable: string
}

/**
 * Brings the schema up to the latest migration of the relay's list (or of `set`); returns the names that ran now (empty when it
 * was already current). Throws DatabaseError('migration') naming the one that failed, or DatabaseError('unavailable')
 * when the database cannot be reached.
 */
export async function migrateToLatest<DB>(
  db: Kysely<DB>,
  dialect: MigrationDialect,
  set?: MigrationSet,
): Promise<string[]> {
  const list = set?.list ?? MIGRATIONS
  const order = new Map(list.map((m, i) => [m.name, i]))
  const migrator = new Migrator({
    db,
    provider: new StaticMigrationProvider(dialect, list),
    ...(set ? { migrationTableName: set.table, migrationLockTableName: set.lockTable } : {}),
    // Order by position in the list, not by name.
    nameComparator: (a, b) => {
      const ia = order.get(a)
      const ib = order.get(b)
      return ia === undefined || ib === undefined ? a.localeCompare(b) : ia - ib
    },
  })
  const { error, results } = await migrator.migrateToLatest()
  if (error !== undefined) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName
    // Not reaching the database at all is an outage, not a broken migration.
    const reason = classifyDriverError(error) === 'unavailable' ? 'unavailable' : 'migration'
    throw new DatabaseError('migrate', reason, {
      cause: error,
      detail: failed === undefined ? undefined : `migration ${failed}`,
    })
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
}
