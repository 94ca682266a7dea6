// Opening the two supported databases as Kysely dialects, with the settings each one needs:
// - SQLite (embedded default) through node:sqlite (see node-sqlite.ts for why not better-sqlite3
//   12; better-sqlite3 13+ can be chosen): creates the file's directory; WAL journal,
//   synchronous=NORMAL (a process crash loses nothing committed; a machine crash may lose the
//   last transactions, which the event log replays), a busy timeout, foreign keys on.
// - PostgreSQL (pg Pool): int8 (bigint columns, count(*)) parsed to JS numbers, refusing values
//   above 2^53 rather than rounding them; the parser is set on this pool only, never globally.
// Also parses `--db-url` into a DbConfig.
// Deliberately not here: migrations and stores (database.ts wires them).

import { mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, resolve } from 'node:path'
import { type Dialect, PostgresDialect, SqliteDialect } from 'kysely'
import type pg from 'pg'
import { DatabaseError } from './errors.ts'
import { NodeSqliteDatabase } from './node-sqlite.ts'

export type DbConfig =
  | { kind: 'sqlite'; path: string }
  | { kind: 'postgres'; url: string; maxConnections: number }

/** How long a SQLite writer waits for a lock held by another connection or process. */
export const SQLITE_BUSY_TIMEOUT_MS = 5000

/** PostgreSQL type id of int8 (bigint). */
const PG_INT8 = 20

export type SqliteDriver = 'node:sqlite' | 'better-sqlite3'

export interface SqliteOpenOptions {
  /** Default 'node:sqlite'. better-sqlite3 is refused below version 13 (see node-sqlite.ts). */
  readonly driver?: SqliteDriver
  /** Prepared statements cached by the node:sqlite driver (default 200). */
  readonly statementCacheSize?: number
  /**
   * Pragmas run before the usual ones, for settings a file must have before its first table
   * (archival mode's `auto_vacuum`, `page_size`). node:sqlite only.
   */
  readonly firstPragmas?: readonly string[]
}

const PRAGMAS = ['journal_mode = WAL', 'synchronous = NORMAL', 'foreign_keys = ON']

export async function openSqlite(path: string, options?: SqliteOpenOptions): Promise<Dialect> {
  const fail = (err: unknown, detail = `sqlite file ${path}`) =>
    new DatabaseError('open', 'unavailable', { cause: err, detail })
  try {
    mkdirSync(dirname(resolve(path)), { recursive: true })
  } catch (err) {
    throw fail(err)
  }
  if (options?.driver === 'better-sqlite3') return openBetterSqlite(path, fail)
  let database: NodeSqliteDatabase
  try {
    database = new NodeSqliteDatabase(path, {
      busyTimeoutMs: SQLITE_BUSY_TIMEOUT_MS,
      statementCacheSize: options?.statementCacheSize,
    })
  } catch (err) {
    throw fail(err)
  }
  try {
    for (const pragma of [...(options?.firstPragmas ?? []), ...PRAGMAS]) {
      database.raw.exec(`pragma ${pragma}`)
    }
  } catch (err) {
    database.close()
    throw fail(err)
  }
  return new SqliteDialect({ database })
}

async function openBetterSqlite(
  path: string,
  fail: (err: unknown, detail?: string) => DatabaseError,
): Promise<Dialect> {
  const require = createRequire(import.meta.url)
  const { version } = require('better-sqlite3/package.json') as { version: string }
  if (Number.parseInt(version, 10) < 13)
    throw fail(
      undefined,
      `better-sqlite3 ${version} aborts the process on Node 24 (statement finaliser); use 13+ or node:sqlite`,
    )
  const { default: Sqlite } = await import('better-sqlite3')
  let database: InstanceType<typeof Sqlite>
  try {
    database = new Sqlite(path, { timeout: SQLITE_BUSY_TIMEOUT_MS })
  } catch (err) {
    throw fail(err)
  }
  try {
    for (const pragma of PRAGMAS) database.pragma(pragma)
  } catch (err) {
    database.close()
    throw fail(err)
  }
  return new SqliteDialect({ database })
}

/**
 * Settings made on each new connection (with `set_config`, not as startup options, which
 * connection poolers such as PgBouncer refuse), e.g. `{ synchronous_commit: 'off' }`. They last
 * for the session: behind a pooler in transaction mode they would reach other clients' sessions,
 * so such a pooler must not be shared with a pool that has settings.
 */
export type SessionSettings = Readonly<Record<string, string>>

export async function openPostgres(
  url: string,
  maxConnections: number,
  onBackgroundError: (err: Error) => void,
  session: SessionSettings = {},
): Promise<Dialect> {
  // Loaded here, not with this module: a relay on SQLite never loads the driver (~1.4 MB of heap
  // in every thread that opens a database: the main thread, each account shard, the archive's
  // writer).
  const { default: driver } = await import('pg')
  const pool = new driver.Pool({
    connectionString: url,
    max: maxConnections,
    application_name: 'atproto-relay',
    types: { getTypeParser: typeParser(driver) },
  })
  // An idle client losing its connection must not crash the process: it is reported (for the
  // log) and the next query that needs a connection fails or gets a fresh one.
  pool.on('error', (err) => onBackgroundError(err))
  // Nor may a client in use: pg rejects its queries and then emits 'error' on the client, which
  // the pool only listens to while the client is idle; unheard, that event would be thrown as an
  // uncaught exception (a database restart or a cut connection mid-query). The rejected query
  // already tells its caller, so this listener only keeps the event from being unheard.
  pool.on('connect', (client) => {
    client.on('error', () => {})
    // Queued on the client before any query the pool hands it out for, so they all see it. A
    // setting that fails leaves the server's default, which the caller must be able to live with.
    for (const [name, value] of Object.entries(session))
      client.query('select set_config($1, $2, false)', [name, value]).catch(() => {})
  })
  return new PostgresDialect({ pool })
}

const typeParser = (driver: typeof pg) =>
  ((id: number, format?: 'text' | 'binary') =>
    id === PG_INT8 && format !== 'binary'
      ? parseInt8
      : driver.types.getTypeParser(id, format)) as typeof pg.types.getTypeParser

function parseInt8(text: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n)) throw new RangeError(`int8 value beyond 2^53: ${text}`)
  return n
}

/**
 * `sqlite://relative/path`, `sqlite:///absolute/path` or `postgres://...` (also
 * `postgresql://`). Relative SQLite paths are resolved against `cwd`.
 */
export function dbConfigFromUrl(
  url: string,
  options: { maxConnections: number; cwd?: string },
): DbConfig {
  if (url.startsWith('sqlite://')) {
    const rest = url.slice('sqlite://'.length)
    if (rest === '' || rest === '/') throw new RangeError(`no file path in database URL: ${url}`)
    return { kind: 'sqlite', path: resolve(options.cwd ?? process.cwd(), decodeURI(rest)) }
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    if (!Number.isSafeInteger(options.maxConnections) || options.maxConnections < 1)
      throw new RangeError(`maxConnections must be a positive integer: ${options.maxConnections}`)
    return { kind: 'postgres', url, maxConnections: options.maxConnections }
  }
  throw new RangeError('database URL must start with sqlite:// or postgres://')
}
