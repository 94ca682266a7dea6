// HostStore: the `host` table (one row per upstream PDS the relay knows). Reads and writes typed
// camelCase HostRows; creates hosts race-safely (a concurrent duplicate is a DuplicateHostError,
// not a constraint failure); saves many hosts' cursors in one transaction.
// Hostnames are stored exactly as given: callers normalise them (lower case, no trailing dot)
// before they get here. Cursor saves do not touch `updated_at`, which records operator-visible
// changes (status, limits, sync mode, errors).
// Deliberately not here: host policy (status machine, limits, bans), which is hosts/.

import type { Kysely, Selectable, Updateable } from 'kysely'
import { atomically, type StoreContext } from './context.ts'
import { DuplicateHostError, HostNotFoundError } from './errors.ts'
import type { HostStatus, HostTable, Schema, SyncMode, ValidationMode } from './schema.ts'

export interface HostRow {
  readonly id: number
  readonly hostname: string
  readonly ssl: boolean
  readonly status: HostStatus
  readonly statusReason: string | null
  /** Last upstream seq fully processed; null before the first one. */
  readonly cursor: number | null
  readonly accountLimit: number
  readonly accountCount: number
  readonly trusted: boolean
  /** Operator's pin; null follows the relay default (`--sync-validation`). */
  readonly syncMode: SyncMode | null
  /** The ratchet's current position. */
  readonly syncEffective: ValidationMode
  /** Consecutive commits with valid prevData (the ratchet counter). */
  readonly syncGoodRun: number
  readonly perSecond: number | null
  readonly perHour: number | null
  readonly perDay: number | null
  readonly crawlRate: number | null
  readonly lastError: string | null
  readonly lastErrorAt: string | null
  readonly createdAt: string
  readonly updatedAt: string
}

export interface NewHost {
  readonly hostname: string
  readonly ssl: boolean
  /** Default 'active'. */
  readonly status?: HostStatus
  readonly accountLimit: number
  /** Default false. */
  readonly trusted?: boolean
  /** The upstream seq to start after (default null: the host's live head). */
  readonly cursor?: number | null
}

/** Fields `update` may change; absent (or undefined) fields are left as they are. */
export type HostPatch = Partial<
  Pick<
    HostRow,
    | 'ssl'
    | 'status'
    | 'statusReason'
    | 'cursor'
    | 'accountLimit'
    | 'accountCount'
    | 'trusted'
    | 'syncMode'
    | 'syncEffective'
    | 'syncGoodRun'
    | 'perSecond'
    | 'perHour'
    | 'perDay'
    | 'crawlRate'
    | 'lastError'
    | 'lastErrorAt'
  >
>

export class HostStore {
  readonly #ctx: StoreContext

  constructor(ctx: StoreContext) {
    this.#ctx = ctx
  }

  /** Every host, by id. */
  list(): Promise<HostRow[]> {
    return this.#ctx.run('hosts.list', async (db) => {
      const rows = await db.selectFrom('host').selectAll().orderBy('id').execute()
      return rows.map(toHostRow)
    })
  }

  getById(id: number): Promise<HostRow | undefined> {
    return this.#ctx.run('hosts.getById', async (db) => {
      const row = await db.selectFrom('host').selectAll().where('id', '=', id).executeTakeFirst()
      return row && toHostRow(row)
    })
  }

  getByHostname(hostname: string): Promise<HostRow | undefined> {
    return this.#ctx.run('hosts.getByHostname', async (db) => {
      const row = await db
        .selectFrom('host')
        .selectAll()
        .where('hostname', '=', hostname)
        .executeTakeFirst()
      return row && toHostRow(row)
    })
  }

  /** Inserts a host; throws DuplicateHostError when the hostname exists (also under races). */
  create(input: NewHost): Promise<HostRow> {
    return this.#ctx.run('hosts.create', async (db) => {
      const now = this.#ctx.now().toISOString()
      // ON CONFLICT DO NOTHING rather than catching the unique violation: it does not abort an
      // enclosing PostgreSQL transaction.
      const row = await db
        .insertInto('host')
        .values({
          hostname: input.hostname,
          ssl: input.ssl ? 1 : 0,
          status: input.status ?? 'active',
          status_reason: null,
          cursor: input.cursor ?? null,
          account_limit: input.accountLimit,
          account_count: 0,
          trusted: input.trusted ? 1 : 0,
          sync_mode: null,
          sync_effective: 'lenient',
          sync_good_run: 0,
          per_second: null,
          per_hour: null,
          per_day: null,
          crawl_rate: null,
          last_error: null,
          last_error_at: null,
          created_at: now,
          updated_at: now,
        })
        .onConflict((oc) => oc.column('hostname').doNothing())
        .returningAll()
        .executeTakeFirst()
      if (row === undefined) throw new DuplicateHostError(input.hostname)
      return toHostRow(row)
    })
  }

  /** Changes the given fields and `updatedAt`; returns the new row. HostNotFoundError if none. */
  update(id: number, patch: HostPatch): Promise<HostRow> {
    return this.#ctx.run('hosts.update', async (db) => {
      const row = await db
        .updateTable('host')
        .set({ ...toHostColumns(patch), updated_at: this.#ctx.now().toISOString() })
        .where('id', '=', id)
        .returningAll()
        .executeTakeFirst()
      if (row === undefined) throw new HostNotFoundError(id)
      return toHostRow(row)
    })
  }

  /**
   * Stores each host's cursor (host id → last upstream seq fully processed; null: none, the host
   * is read from its live head) in one transaction. Ids with no host are ignored.
   */
  async saveCursors(cursors: ReadonlyMap<number, number | null>): Promise<void> {
    for (const [id, cursor] of cursors) {
      if (cursor !== null && (!Number.isSafeInteger(cursor) || cursor < 0))
        throw new RangeError(
          `host ${id}: cursor must be a non-negative safe integer, got ${cursor}`,
        )
    }
    return this.#ctx.run('hosts.saveCursors', async (db) => {
      if (cursors.size === 0) return
      await atomically(db, async (trx: Kysely<Schema>) => {
        for (const [id, cursor] of cursors) {
          await trx.updateTable('host').set({ cursor }).where('id', '=', id).execute()
        }
      })
    })
  }

  /** Hosts created at or after `isoTime` (the per-day new-host limit). */
  async countCreatedSince(isoTime: string): Promise<number> {
    const since = normalizeIsoTime(isoTime)
    return this.#ctx.run('hosts.countCreatedSince', async (db) => {
      const row = await db
        .selectFrom('host')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('created_at', '>=', since)
        .executeTakeFirstOrThrow()
      return Number(row.n)
    })
  }
}

/** Stored timestamps are Date#toISOString output; compare against the same form. */
function normalizeIsoTime(isoTime: string): string {
  const t = Date.parse(isoTime)
  if (Number.isNaN(t)) throw new RangeError(`not an ISO 8601 time: ${isoTime}`)
  return new Date(t).toISOString()
}

function toHostRow(r: Selectable<HostTable>): HostRow {
  return {
    id: r.id,
    hostname: r.hostname,
    ssl: r.ssl !== 0,
    status: r.status,
    statusReason: r.status_reason,
    cursor: r.cursor,
    accountLimit: r.account_limit,
    accountCount: r.account_count,
    trusted: r.trusted !== 0,
    syncMode: r.sync_mode,
    syncEffective: r.sync_effective,
    syncGoodRun: r.sync_good_run,
    perSecond: r.per_second,
    perHour: r.per_hour,
    perDay: r.per_day,
    crawlRate: r.crawl_rate,
    lastError: r.last_error,
    lastErrorAt: r.last_error_at,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  }
}

function toHostColumns(p: HostPatch): Updateable<HostTable> {
  const c: Updateable<HostTable> = {}
  if (p.ssl !== undefined) c.ssl = p.ssl ? 1 : 0
  if (p.status !== undefined) c.status = p.status
  if (p.statusReason !== undefined) c.status_reason = p.statusReason
  if (p.cursor !== undefined) c.cursor = p.cursor
  if (p.accountLimit !== undefined) c.account_limit = p.accountLimit
  if (p.accountCount !== undefined) c.account_count = p.accountCount
  if (p.trusted !== undefined) c.trusted = p.trusted ? 1 : 0
  if (p.syncMode !== undefined) c.sync_mode = p.syncMode
  if (p.syncEffective !== undefined) c.sync_effective = p.syncEffective
  if (p.syncGoodRun !== undefined) c.sync_good_run = p.syncGoodRun
  if (p.perSecond !== undefined) c.per_second = p.perSecond
  if (p.perHour !== undefined) c.per_hour = p.perHour
  if (p.perDay !== undefined) c.per_day = p.perDay
  if (p.crawlRate !== undefined) c.crawl_rate = p.crawlRate
  if (p.lastError !== undefined) c.last_error = p.lastError
  if (p.lastErrorAt !== undefined) c.last_error_at = p.lastErrorAt
  return c
}
