// AccountStore: the `account` table (one row per DID the relay has seen). Typed camelCase
// AccountRows in and out. `upsertMany` is the account batch writer's hot path: one transaction
// (or the caller's, inside RelayDatabase.transaction), multi-row INSERT ... ON CONFLICT DO UPDATE
// in chunks that stay under both dialects' bound-parameter limits and come in few distinct sizes
// (db/chunks.ts: each size is a statement SQLite keeps prepared).
// Upsert semantics: every column is overwritten with the row's value except `created_at`, which
// keeps the value of the first insert (the age "oldest throttled first" is ordered by). Within one
// call, the last row for a DID wins (PostgreSQL refuses to update one row twice in a statement).
// Deliberately not here: what the statuses mean, host matching and migration between hosts
// (accounts/), and keeping `host.account_count` in step (hosts/ and accounts/ do that).

import type { Kysely, Selectable } from 'kysely'
import { type ChunkPolicy, chunks, keyChunks } from './chunks.ts'
import { atomically, type StoreContext } from './context.ts'
import type { AccountTable, AccountUpstreamStatus, LocalStatus, Schema } from './schema.ts'

export interface AccountRow {
  readonly did: string
  readonly hostId: number
  readonly localStatus: LocalStatus
  readonly upstreamStatus: AccountUpstreamStatus
  readonly rev: string | null
  readonly commitCid: string | null
  readonly dataCid: string | null
  readonly handle: string | null
  readonly createdAt: string
  readonly updatedAt: string
}

export interface ListPageOptions {
  /** Only accounts with a known commit CID and rev (what `listRepos` may show). */
  readonly withCommit?: boolean
}

/** Rows per INSERT statement: 10 parameters each, well under SQLite's 32,766 and pg's 65,535. */
export const DEFAULT_UPSERT_CHUNK_ROWS = 500
/** DIDs per `IN (...)` list in getMany. */
const LOOKUP_CHUNK = 500

export class AccountStore {
  readonly #ctx: StoreContext
  readonly #chunkRows: number
  readonly #policy: ChunkPolicy

  constructor(
    ctx: StoreContext,
    options?: { upsertChunkRows?: number; chunkPolicy?: ChunkPolicy },
  ) {
    this.#ctx = ctx
    this.#policy = options?.chunkPolicy ?? 'few-sizes'
    const chunk = options?.upsertChunkRows ?? DEFAULT_UPSERT_CHUNK_ROWS
    if (!Number.isInteger(chunk) || chunk < 1 || chunk > 3000)
      throw new RangeError(`upsertChunkRows must be an integer in 1..3000, got ${chunk}`)
    this.#chunkRows = chunk
  }

  get(did: string): Promise<AccountRow | undefined> {
    return this.#ctx.run('accounts.get', async (db) => {
      const row = await db
        .selectFrom('account')
        .selectAll()
        .where('did', '=', did)
        .executeTakeFirst()
      return row && toAccountRow(row)
    })
  }

  /** The rows that exist among `dids`, keyed by DID (absent DIDs are simply missing). */
  getMany(dids: readonly string[]): Promise<Map<string, AccountRow>> {
    return this.#ctx.run('accounts.getMany', async (db) => {
      const found = new Map<string, AccountRow>()
      const unique = [...new Set(dids)]
      for (const chunk of keyChunks(unique, LOOKUP_CHUNK)) {
        const rows = await db.selectFrom('account').selectAll().where('did', 'in', chunk).execute()
        for (const r of rows) found.set(r.did, toAccountRow(r))
      }
      return found
    })
  }

  /** Inserts or overwrites every row, atomically (see the header for the exact semantics). */
  upsertMany(rows: readonly AccountRow[]): Promise<void> {
    return this.#ctx.run('accounts.upsertMany', async (db) => {
      if (rows.length === 0) return
      const byDid = new Map<string, AccountRow>()
      for (const r of rows) byDid.set(r.did, r)
      const values = [...byDid.values()].map(toAccountColumns)
      await atomically(db, async (trx: Kysely<Schema>) => {
        for (const chunk of chunks(values, this.#chunkRows, this.#policy)) {
          await trx
            .insertInto('account')
            .values(chunk)
            .onConflict((oc) =>
              oc.column('did').doUpdateSet((eb) => ({
                host_id: eb.ref('excluded.host_id'),
                local_status: eb.ref('excluded.local_status'),
                upstream_status: eb.ref('excluded.upstream_status'),
                rev: eb.ref('excluded.rev'),
                commit_cid: eb.ref('excluded.commit_cid'),
                data_cid: eb.ref('excluded.data_cid'),
                handle: eb.ref('excluded.handle'),
                updated_at: eb.ref('excluded.updated_at'),
              })),
            )
            .execute()
        }
      })
    })
  }

  countByHost(hostId: number): Promise<number> {
    return this.#ctx.run('accounts.countByHost', async (db) => {
      const row = await db
        .selectFrom('account')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('host_id', '=', hostId)
        .executeTakeFirstOrThrow()
      return Number(row.n)
    })
  }

  /**
   * Accounts that take one of their host's account slots (not throttled, not deleted), per host:
   * one grouped scan, run at start to seed the in-memory counts.
   */
  countSlotsByHost(): Promise<Map<number, number>> {
    return this.#ctx.run('accounts.countSlotsByHost', async (db) => {
      const rows = await db
        .selectFrom('account')
        .select(['host_id', (eb) => eb.fn.countAll().as('n')])
        .where('local_status', '!=', 'throttled')
        .where('upstream_status', '!=', 'deleted')
        .groupBy('host_id')
        .execute()
      return new Map(rows.map((r) => [Number(r.host_id), Number(r.n)]))
    })
  }

  /** Up to `limit` accounts in one local status with DID greater than `afterDid`, by DID. */
  listByLocalStatus(
    localStatus: LocalStatus,
    afterDid: string | null,
    limit: number,
  ): Promise<AccountRow[]> {
    checkLimit(limit)
    return this.#ctx.run('accounts.listByLocalStatus', async (db) => {
      let q = db.selectFrom('account').selectAll().where('local_status', '=', localStatus)
      if (afterDid !== null) q = q.where('did', '>', afterDid)
      const rows = await q.orderBy('did').limit(limit).execute()
      return rows.map(toAccountRow)
    })
  }

  /** Up to `limit` accounts with DID greater than `afterDid` (null: from the start), by DID. */
  async listPage(
    afterDid: string | null,
    limit: number,
    options?: ListPageOptions,
  ): Promise<AccountRow[]> {
    checkLimit(limit)
    return this.#ctx.run('accounts.listPage', async (db) => {
      let q = db.selectFrom('account').selectAll()
      if (afterDid !== null) q = q.where('did', '>', afterDid)
      if (options?.withCommit)
        q = q.where('commit_cid', 'is not', null).where('rev', 'is not', null)
      const rows = await q.orderBy('did').limit(limit).execute()
      return rows.map(toAccountRow)
    })
  }

  /** Up to `limit` accounts of a host in one local status, oldest first (then by DID). */
  async listByHostStatus(
    hostId: number,
    localStatus: LocalStatus,
    limit: number,
  ): Promise<AccountRow[]> {
    checkLimit(limit)
    return this.#ctx.run('accounts.listByHostStatus', async (db) => {
      const rows = await db
        .selectFrom('account')
        .selectAll()
        .where('host_id', '=', hostId)
        .where('local_status', '=', localStatus)
        .orderBy('created_at')
        .orderBy('did')
        .limit(limit)
        .execute()
      return rows.map(toAccountRow)
    })
  }
}

function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new RangeError(`limit must be a positive integer, got ${limit}`)
}

function toAccountRow(r: Selectable<AccountTable>): AccountRow {
  return {
    did: r.did,
    hostId: r.host_id,
    localStatus: r.local_status,
    upstreamStatus: r.upstream_status,
    rev: r.rev,
    commitCid: r.commit_cid,
    dataCid: r.data_cid,
    handle: r.handle,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }
}

function toAccountColumns(r: AccountRow): AccountTable {
  return {
    did: r.did,
    host_id: r.hostId,
    local_status: r.localStatus,
    upstream_status: r.upstreamStatus,
    rev: r.rev,
    commit_cid: r.commitCid,
    data_cid: r.dataCid,
    handle: r.handle,
    created_at: r.createdAt,
    updated_at: r.updatedAt,
  }
}
