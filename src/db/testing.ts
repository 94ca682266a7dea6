// Test support: a RelayDatabase on a fresh SQLite file in its own temp directory, removed on
// dispose. For tests in any part that needs real state storage (`await using t = await
// tempDatabase()`); never used by production code.

import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type DbOptions, openDatabase, type RelayDatabase } from './database.ts'

export interface TempDatabase extends AsyncDisposable {
  /** The temp directory holding the database (and anything else the test puts there). */
  readonly dir: string
  /** The SQLite file. */
  readonly path: string
  /** The currently open database. */
  readonly db: RelayDatabase
  /** Closes the current database and opens the same file again. */
  reopen(options?: DbOptions): Promise<RelayDatabase>
}

export async function tempDatabase(options?: DbOptions): Promise<TempDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'relay-db-test-'))
  const path = join(dir, 'nested', 'relay.sqlite')
  let db: RelayDatabase
  try {
    db = await openDatabase({ kind: 'sqlite', path }, options)
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  return {
    dir,
    path,
    get db() {
      return db
    },
    async reopen(reopenOptions = options) {
      await db.close()
      db = await openDatabase({ kind: 'sqlite', path }, reopenOptions)
      return db
    },
    async [Symbol.asyncDispose]() {
      await db.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}
