// The relay's state database: opens SQLite or PostgreSQL, runs the migrations, and hands out
// the stores (hosts, accounts, meta) plus `transaction`, which runs a function with stores bound
// to one transaction: everything it writes commits together or not at all. That is how the
// account batch writer stores a batch of rows and its checkpoint seq atomically:
//
//   await relayDb.transaction(async ({ accounts, meta }) => {
//     await accounts.upsertMany(rows)
//     await meta.set('accounts_checkpoint_seq', String(seq))
//   })
//
// Inside `fn` use only the stores it is given: on SQLite there is one connection, and a query
// through the root stores would wait for the transaction that is waiting for it. Errors thrown by
// `fn` itself roll back and are rethrown unchanged; database failures are DatabaseErrors.
// close() refuses new work, waits for operations in flight, then closes the connection(s).
// Deliberately not here: SQL (the stores), what is written when (accounts/, hosts/, ingest/).

import { Kysely } from 'kysely'
import { AccountStore } from './accounts.ts'
import { chunkPolicyOf } from './chunks.ts'
import { RootContext, TransactionContext } from './context.ts'
import { type DbConfig, openPostgres, openSqlite, type SqliteDriver } from './dialect.ts'
import { wrapDriverError } from './errors.ts'
import { HostStore } from './hosts.ts'
import { IdentityStore } from './identities.ts'
import { MetaStore } from './meta.ts'
import { migrateToLatest } from './migrations/index.ts'
import type { Schema } from './schema.ts'

export type { DbConfig } from './dialect.ts'

export interface DbOptions {
  /** Clock for created/updated timestamps (default: the system clock). */
  readonly now?: () => Date
  /** Rows per INSERT in AccountStore.upsertMany (default DEFAULT_UPSERT_CHUNK_ROWS). */
  readonly accountUpsertChunkRows?: number
  /** SQLite driver (default 'node:sqlite'; 'better-sqlite3' needs version 13+). */
  readonly sqliteDriver?: SqliteDriver
  /** Prepared statements the node:sqlite driver keeps (default 200). */
  readonly sqliteStatementCacheSize?: number
  /** Errors no caller is waiting for (a pooled PostgreSQL connection dropping while idle). */
  readonly onBackgroundError?: (err: Error) => void
}

export interface Stores {
  readonly hosts: HostStore
  readonly accounts: AccountStore
  readonly meta: MetaStore
  readonly identities: IdentityStore
}

export interface RelayDatabase extends Stores, AsyncDisposable {
  /** The query builder itself, for tests and diagnostics; production SQL lives in the stores. */
  readonly db: Kysely<Schema>
  readonly dialect: 'sqlite' | 'postgres'
  /** Migrations that ran while opening (empty when the schema was already current). */
  readonly migrationsApplied: readonly string[]
  /** Resolves when the database answers a trivial query (for /xrpc/_health). */
  ping(): Promise<void>
  /** Runs `fn` in one transaction with stores bound to it (see the header). */
  transaction<T>(fn: (stores: Stores) => Promise<T>): Promise<T>
  /** Idempotent. */
  close(): Promise<void>
}

export async function openDatabase(config: DbConfig, options?: DbOptions): Promise<RelayDatabase> {
  const dialect =
    config.kind === 'sqlite'
      ? await openSqlite(config.path, {
          driver: options?.sqliteDriver,
          statementCacheSize: options?.sqliteStatementCacheSize,
        })
      : await openPostgres(
          config.url,
          config.maxConnections,
          options?.onBackgroundError ?? (() => {}),
        )
  const db = new Kysely<Schema>({ dialect })
  let applied: string[]
  try {
    applied = await migrateToLatest(db, config.kind)
  } catch (err) {
    await db.destroy().catch(() => {})
    throw err
  }
  return new OpenRelayDatabase(db, config.kind, applied, options)
}

class OpenRelayDatabase implements RelayDatabase {
  readonly db: Kysely<Schema>
  readonly dialect: 'sqlite' | 'postgres'
  readonly migrationsApplied: readonly string[]
  readonly hosts: HostStore
  readonly accounts: AccountStore
  readonly meta: MetaStore
  readonly identities: IdentityStore
  readonly #ctx: RootContext
  readonly #now: () => Date
  readonly #chunkRows: number | undefined
  #closing: Promise<void> | undefined

  constructor(
    db: Kysely<Schema>,
    dialect: 'sqlite' | 'postgres',
    applied: readonly string[],
    options: DbOptions | undefined,
  ) {
    this.db = db
    this.dialect = dialect
    this.migrationsApplied = applied
    this.#now = options?.now ?? (() => new Date())
    this.#chunkRows = options?.accountUpsertChunkRows
    this.#ctx = new RootContext(db, this.#now)
    this.hosts = new HostStore(this.#ctx)
    this.accounts = new AccountStore(this.#ctx, {
      upsertChunkRows: this.#chunkRows,
      chunkPolicy: chunkPolicyOf(dialect),
    })
    this.meta = new MetaStore(this.#ctx)
    this.identities = new IdentityStore(this.#ctx, chunkPolicyOf(dialect))
  }

  ping(): Promise<void> {
    return this.#ctx.run('ping', async (db) => {
      await db.selectFrom('meta').select('key').limit(1).execute()
    })
  }

  transaction<T>(fn: (stores: Stores) => Promise<T>): Promise<T> {
    return this.#ctx.track('transaction', async (db) => {
      let callerError: { error: unknown } | undefined
      try {
        return await db.transaction().execute(async (trx) => {
          const ctx = new TransactionContext(trx, this.#now)
          const stores: Stores = {
            hosts: new HostStore(ctx),
            accounts: new AccountStore(ctx, {
              upsertChunkRows: this.#chunkRows,
              chunkPolicy: chunkPolicyOf(this.dialect),
            }),
            meta: new MetaStore(ctx),
            identities: new IdentityStore(ctx, chunkPolicyOf(this.dialect)),
          }
          try {
            return await fn(stores)
          } catch (err) {
            callerError = { error: err }
            throw err
          }
        })
      } catch (err) {
        if (callerError !== undefined && err === callerError.error) throw err
        throw wrapDriverError('transaction', err)
      }
    })
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#ctx.drain()
      await this.db.destroy()
    })()
    return this.#closing
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }
}
