// Node's built-in SQLite (`node:sqlite`, DatabaseSync) shaped as the database object Kysely's
// SqliteDialect drives. This is the default SQLite driver because better-sqlite3 12 aborts the
// process on Node 24: its Statement destructor calls node::RemoveEnvironmentCleanupHook, which
// asserts when a garbage collection finalises a statement outside a Node environment scope
// (reproduced here within seconds of Kysely traffic). better-sqlite3 13 (Node-API) does not.
//
// Kysely prepares every query it runs; this adapter keeps a bounded LRU of prepared statements by
// SQL text so the hot statements (the chunked account upsert, lookups by key) are compiled once.
// When full, the least recently used statement is dropped and finalised by the GC. Streaming
// (`iterate`) always uses a fresh statement, so a half-read iterator never shares one.
// Integers come back as JS numbers; node:sqlite throws rather than round one beyond 2^53.
// Deliberately not here: pragmas and opening policy (dialect.ts).

import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite'
import type { SqliteDatabase, SqliteStatement } from 'kysely'

/** Default bound of the prepared-statement cache (entries). */
export const DEFAULT_STATEMENT_CACHE_SIZE = 200

export interface NodeSqliteOptions {
  /** How long a writer waits for another connection's lock, in milliseconds. */
  readonly busyTimeoutMs: number
  /** Prepared statements kept, least recently used dropped first (0 disables the cache). */
  readonly statementCacheSize?: number
}

interface Prepared {
  readonly statement: StatementSync
  readonly reader: boolean
}

/** Opens (creating if needed) the file at `path`; throws node:sqlite's error if it cannot. */
export class NodeSqliteDatabase implements SqliteDatabase {
  /** The underlying connection, for pragmas at open time. */
  readonly raw: DatabaseSync
  readonly #cache = new Map<string, Prepared>()
  readonly #cacheSize: number

  constructor(path: string, options: NodeSqliteOptions) {
    this.raw = new DatabaseSync(path, { timeout: options.busyTimeoutMs })
    this.#cacheSize = options.statementCacheSize ?? DEFAULT_STATEMENT_CACHE_SIZE
  }

  close(): void {
    this.#cache.clear()
    if (this.raw.isOpen) this.raw.close()
  }

  prepare(sql: string): SqliteStatement {
    const { statement, reader } = this.#prepared(sql)
    return {
      reader,
      all: (params) => statement.all(...toInputs(params)),
      run: (params) => statement.run(...toInputs(params)),
      iterate: (params) => this.raw.prepare(sql).iterate(...toInputs(params)),
    }
  }

  #prepared(sql: string): Prepared {
    const hit = this.#cache.get(sql)
    if (hit !== undefined) {
      // Refresh its position: Map iteration order is insertion order, oldest first.
      this.#cache.delete(sql)
      this.#cache.set(sql, hit)
      return hit
    }
    const statement = this.raw.prepare(sql)
    // A pragma may do its work one row at a time while declaring no columns
    // (`incremental_vacuum` frees one page per step): read it to the end.
    const reader = statement.columns().length > 0 || /^\s*pragma\b/i.test(sql)
    const prepared = { statement, reader }
    if (this.#cacheSize > 0) {
      this.#cache.set(sql, prepared)
      if (this.#cache.size > this.#cacheSize) {
        const oldest = this.#cache.keys().next().value
        if (oldest !== undefined) this.#cache.delete(oldest)
      }
    }
    return prepared
  }
}

/** Kysely hands parameters as unknown[]; node:sqlite rejects unsupported types itself. */
function toInputs(params: ReadonlyArray<unknown>): SQLInputValue[] {
  return params as SQLInputValue[]
}
