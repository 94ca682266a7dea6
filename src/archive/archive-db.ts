// Opening archival mode's database: on SQLite its own file (default `repos.sqlite` beside the
// relay's), created with incremental auto-vacuum so compaction can hand freed pages back to the
// file system, and 8 KiB pages (fewer overflow pages for record blocks of a few KiB); on
// PostgreSQL the relay's own database (or another URL), with the archive's tables beside the
// relay's. Runs the archive's migrations. On SQLite the relay has every write made by a thread of
// its own (writer-thread.ts), and this connection reads. Every operation goes through `run`, which
// refuses work after close(), tracks operations in flight for close(), and turns driver errors
// into DatabaseErrors.
// Deliberately not here: SQL (repo-store.ts, resync-jobs.ts).
import { Kysely, sql, type Transaction } from 'kysely'
import { type DbConfig, openPostgres, openSqlite } from '../db/dialect.ts'
import { DatabaseError, wrapDriverError } from '../db/errors.ts'
import { migrateToLatest } from '../db/migrations/index.ts'
import { ARCHIVE_MIGRATIONS } from './migrations.ts'
import type { ArchiveSchema } from './schema.ts'
import { type ArchiveWriter, ArchiveWriterThread } from './writer-thread.ts'

/**
 * The archive's PostgreSQL connections commit without waiting for the WAL to reach the disk, the
 * durability SQLite's `synchronous = NORMAL` gives the embedded archive: a crash of the database
 * or the machine (not of the relay) may lose the last fraction of a second of mirror writes,
 * never half of one. The mirror then sits behind the account's head: the next commit is diffed
 * from the stored tree, or, when that needs blocks the mirror never got, the account is
 * desynchronized and its repair brings the repo back.
 * Waiting for each commit's WAL flush capped the mirror at ~600 commits/s on the test box.
 */
const ARCHIVE_SESSION = { synchronous_commit: 'off' } as const

/** Consistent reads held open at once (each a connection); more wait their turn. */
const MAX_SNAPSHOTS = 8
/** Reads waiting for a turn; past it a read is refused (SnapshotsBusyError) rather than queued. */
export const MAX_SNAPSHOT_WAITERS = 64

/** Every snapshot slot is held and the line of waiters is full (a flood of repo exports). */
export class SnapshotsBusyError extends Error {
  override readonly name = 'SnapshotsBusyError'
  readonly waiting: number
  constructor(waiting: number) {
    super(`${waiting} repo reads are already waiting; try again shortly`)
    this.waiting = waiting
  }
}

export class ArchiveDatabase {
  readonly db: Kysely<ArchiveSchema>
  readonly dialect: 'sqlite' | 'postgres'
  readonly #config: DbConfig
  readonly #inFlight = new Set<Promise<unknown>>()
  #snapshots = 0
  readonly #snapshotQueue: (() => void)[] = []
  readonly #thread: ArchiveWriterThread | undefined
  /** An account shard's SQLite archive: the writer thread, reached through the main thread. */
  readonly #remote: ArchiveWriter | undefined
  #closed = false
  #closing: Promise<void> | undefined

  private constructor(
    db: Kysely<ArchiveSchema>,
    config: DbConfig,
    thread: ArchiveWriterThread | undefined,
    remote?: ArchiveWriter,
  ) {
    this.db = db
    this.dialect = config.kind
    this.#config = config
    this.#thread = thread
    this.#remote = remote
  }

  /**
   * On SQLite when asked for: the thread every write goes to (writer-thread.ts), with a
   * connection of its own; this object's connection then only reads.
   */
  get writer(): ArchiveWriter | undefined {
    return this.#thread ?? this.#remote
  }

  /**
   * Opens the archive and brings its tables up to date. `writerThread` (SQLite only; the relay
   * sets it) moves every write to a thread of its own.
   */
  static async open(
    config: DbConfig,
    onBackgroundError: (err: Error) => void = () => {},
    options: { writerThread?: boolean } = {},
  ): Promise<ArchiveDatabase> {
    const dialect =
      config.kind === 'sqlite'
        ? await openSqlite(config.path, {
            firstPragmas: ['page_size = 8192', 'auto_vacuum = INCREMENTAL'],
          })
        : await openPostgres(config.url, config.maxConnections, onBackgroundError, ARCHIVE_SESSION)
    const db = new Kysely<ArchiveSchema>({ dialect })
    try {
      await migrateToLatest(db, config.kind, ARCHIVE_MIGRATIONS)
    } catch (err) {
      await db.destroy().catch(() => {})
      throw err
    }
    let thread: ArchiveWriterThread | undefined
    if (config.kind === 'sqlite' && options.writerThread) {
      try {
        thread = await ArchiveWriterThread.start(config.path, onBackgroundError)
      } catch (err) {
        await db.destroy().catch(() => {})
        throw err
      }
    }
    return new ArchiveDatabase(db, config, thread)
  }

  /**
   * The writer thread's connection to a SQLite archive the main thread has already opened:
   * neither the first pragmas (`auto_vacuum` would take the write lock on an existing file) nor
   * migrations.
   */
  static async openForWriter(path: string): Promise<ArchiveDatabase> {
    const config: DbConfig = { kind: 'sqlite', path }
    return new ArchiveDatabase(new Kysely({ dialect: await openSqlite(path) }), config, undefined)
  }

  /**
   * An account shard's connection to the archive the main thread has opened and migrated. On
   * SQLite it only reads, and its writes go to `writer` (the main thread's writer thread, the
   * file's one writer, through the main thread); on PostgreSQL it is a pool of its own that
   * writes itself, with `config`'s share of the connections.
   */
  static async openForShard(
    config: DbConfig,
    onBackgroundError: (err: Error) => void,
    writer: ArchiveWriter | undefined,
  ): Promise<ArchiveDatabase> {
    if (config.kind === 'sqlite') {
      if (!writer) throw new Error('a shard needs a writer for a SQLite archive')
      const db = new Kysely<ArchiveSchema>({ dialect: await openSqlite(config.path) })
      return new ArchiveDatabase(db, config, undefined, writer)
    }
    const dialect = await openPostgres(
      config.url,
      config.maxConnections,
      onBackgroundError,
      ARCHIVE_SESSION,
    )
    return new ArchiveDatabase(new Kysely({ dialect }), config, undefined)
  }

  /** On SQLite, the writer thread itself (account shards' writes are handed to it); else undefined. */
  get writerThread(): ArchiveWriterThread | undefined {
    return this.#thread
  }

  /** The writer thread's writes answered, in hand and restarts; undefined without one. */
  get writerStats(): ArchiveWriterThread['stats'] | undefined {
    return this.#thread?.stats
  }

  /** Runs one operation: refused after close(); driver errors leave as DatabaseError. */
  run<T>(operation: string, fn: (db: Kysely<ArchiveSchema>) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new DatabaseError(operation, 'closed'))
    const p = fn(this.db).catch((err: unknown) => {
      if (err instanceof DatabaseError || err instanceof SnapshotsBusyError) throw err
      throw wrapDriverError(operation, err)
    })
    this.#inFlight.add(p)
    const forget = () => this.#inFlight.delete(p)
    p.then(forget, forget)
    return p
  }

  /**
   * Runs `fn` over one consistent state of the archive, however long it takes and whatever is
   * written meanwhile: a repo export streamed to a slow client must not mix two states of the
   * repo. On SQLite a read transaction on a connection of its own (in WAL mode readers and the
   * writer never wait for each other); on PostgreSQL a read-only repeatable-read transaction on
   * one pooled connection. At most MAX_SNAPSHOTS at once; up to MAX_SNAPSHOT_WAITERS more wait,
   * and beyond that a read is refused with SnapshotsBusyError.
   */
  snapshot<T>(operation: string, fn: (db: Kysely<ArchiveSchema>) => Promise<T>): Promise<T> {
    return this.run(operation, async () => {
      if (this.#snapshots >= MAX_SNAPSHOTS) {
        if (this.#snapshotQueue.length >= MAX_SNAPSHOT_WAITERS) {
          throw new SnapshotsBusyError(this.#snapshotQueue.length)
        }
        await new Promise<void>((resolve) => this.#snapshotQueue.push(resolve))
      }
      this.#snapshots++
      try {
        if (this.#config.kind === 'sqlite') {
          const reader = new Kysely<ArchiveSchema>({ dialect: await openSqlite(this.#config.path) })
          try {
            return await inReadTransaction(reader, 'begin', fn)
          } finally {
            await reader.destroy()
          }
        }
        return await this.db
          .connection()
          .execute((conn) =>
            inReadTransaction(conn, 'begin isolation level repeatable read read only', fn),
          )
      } finally {
        this.#snapshots--
        this.#snapshotQueue.shift()?.()
      }
    })
  }

  /** Runs `fn` in one transaction (through `run`). */
  transaction<T>(
    operation: string,
    fn: (trx: Transaction<ArchiveSchema>) => Promise<T>,
  ): Promise<T> {
    return this.run(operation, (db) => db.transaction().execute(fn))
  }

  /**
   * Bytes the archive occupies: the SQLite file's pages in use plus its free pages, or the
   * PostgreSQL tables with their indexes and TOAST.
   */
  storageBytes(): Promise<{ total: number; free: number }> {
    return this.run('archive.storageBytes', async (db) => {
      if (this.dialect === 'sqlite') {
        const pages = await sql<{
          n: number
        }>`select page_count * page_size as n from pragma_page_count(), pragma_page_size()`.execute(
          db,
        )
        const free = await sql<{
          n: number
        }>`select freelist_count * page_size as n from pragma_freelist_count(), pragma_page_size()`.execute(
          db,
        )
        return { total: Number(pages.rows[0]?.n ?? 0), free: Number(free.rows[0]?.n ?? 0) }
      }
      const r = await sql<{
        n: number
      }>`select coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint as n
        from pg_class c join pg_namespace ns on ns.oid = c.relnamespace
        where ns.nspname = current_schema() and c.relkind = 'r' and (c.relname = 'repo' or c.relname like 'repo_block%')`.execute(
        db,
      )
      return { total: Number(r.rows[0]?.n ?? 0), free: 0 }
    })
  }

  /**
   * Gives the space of deleted blocks back: SQLite hands its free pages to the file system
   * (incremental auto-vacuum, so the file shrinks); PostgreSQL vacuums the blocks table so the
   * space is reused (a plain VACUUM, which never locks out writers).
   */
  reclaim(): Promise<void> {
    // With a writer thread this connection never writes: two writers would wait on each other.
    if (this.#thread) return this.#thread.reclaim()
    if (this.#remote) {
      return Promise.reject(new Error('the archive is reclaimed where its writer thread runs'))
    }
    return this.run('archive.reclaim', async (db) => {
      if (this.dialect === 'sqlite') await sql`pragma incremental_vacuum`.execute(db)
      else await sql`vacuum (analyze) repo_block`.execute(db)
    })
  }

  /** Refuses new work, waits for what is in flight, closes the connection(s). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true
      while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight])
      await this.#thread?.close()
      await this.db.destroy()
    })()
    return this.#closing
  }
}

async function inReadTransaction<T>(
  db: Kysely<ArchiveSchema>,
  begin: string,
  fn: (db: Kysely<ArchiveSchema>) => Promise<T>,
): Promise<T> {
  await sql.raw(begin).execute(db)
  try {
    return await fn(db)
  } finally {
    await sql`rollback`.execute(db).catch(() => {})
  }
}
