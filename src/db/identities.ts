// IdentityStore: the `identity` table, each DID's identity as the relay last resolved it (what
// the cache was told, not a copy of the DID document). Rows are written in batches (upsert, the
// last row for a DID in one call wins), read one DID at a time, on a cache miss, and deleted in
// batches once too old to be used (by `resolved_at`, indexed).
// Deliberately not here: when a stored identity may be used (identity/stored-identities.ts).

import { type ChunkPolicy, chunks, keyChunks } from './chunks.ts'
import { atomically, type StoreContext } from './context.ts'
import type { IdentityTable } from './schema.ts'

export type IdentityRow = Readonly<IdentityTable>

/** Rows per statement: 6 parameters each, under both dialects' bound-parameter limits. */
const UPSERT_CHUNK_ROWS = 500

export class IdentityStore {
  readonly #ctx: StoreContext
  readonly #policy: ChunkPolicy

  constructor(ctx: StoreContext, policy: ChunkPolicy) {
    this.#ctx = ctx
    this.#policy = policy
  }

  get(did: string): Promise<IdentityRow | undefined> {
    return this.#ctx.run('identities.get', (db) =>
      db.selectFrom('identity').selectAll().where('did', '=', did).executeTakeFirst(),
    )
  }

  /** Inserts or overwrites every row, atomically; the last row for a DID wins. */
  upsertMany(rows: readonly IdentityRow[]): Promise<void> {
    return this.#ctx.run('identities.upsertMany', async (db) => {
      if (rows.length === 0) return
      const byDid = new Map<string, IdentityRow>()
      for (const r of rows) byDid.set(r.did, r)
      await atomically(db, async (trx) => {
        for (const chunk of chunks([...byDid.values()], UPSERT_CHUNK_ROWS, this.#policy)) {
          await trx
            .insertInto('identity')
            .values(chunk)
            .onConflict((oc) =>
              oc.column('did').doUpdateSet((eb) => ({
                pds: eb.ref('excluded.pds'),
                handle: eb.ref('excluded.handle'),
                key_type: eb.ref('excluded.key_type'),
                key: eb.ref('excluded.key'),
                resolved_at: eb.ref('excluded.resolved_at'),
              })),
            )
            .execute()
        }
      })
    })
  }

  /** Deletes up to `limit` rows resolved before `cutoff` (ms); how many it deleted. */
  deleteResolvedBefore(cutoff: number, limit: number): Promise<number> {
    return this.#ctx.run('identities.deleteResolvedBefore', async (db) => {
      const result = await db
        .deleteFrom('identity')
        .where('did', 'in', (eb) =>
          eb.selectFrom('identity').select('did').where('resolved_at', '<', cutoff).limit(limit),
        )
        .executeTakeFirst()
      return Number(result.numDeletedRows)
    })
  }

  /**
   * Deletes every row of one DID method (`plc` for `did:plc:…`); how many it deleted. Rare (a
   * start with another directory), so a pattern, not a range on the key: PostgreSQL's collation
   * may order punctuation in ways a range would get wrong. A method name is lowercase letters and
   * digits, so SQLite's case-blind LIKE matches the same rows.
   */
  deleteMethod(method: string): Promise<number> {
    if (!/^[a-z0-9]+$/.test(method)) throw new TypeError(`not a DID method: ${method}`)
    return this.#ctx.run('identities.deleteMethod', async (db) => {
      const result = await db
        .deleteFrom('identity')
        .where('did', 'like', `did:${method}:%`)
        .executeTakeFirst()
      return Number(result.numDeletedRows)
    })
  }

  /** Deletes the rows of these DIDs (absent ones are ignored). */
  deleteMany(dids: readonly string[]): Promise<void> {
    return this.#ctx.run('identities.deleteMany', async (db) => {
      for (const chunk of keyChunks([...new Set(dids)], UPSERT_CHUNK_ROWS)) {
        await db.deleteFrom('identity').where('did', 'in', chunk).execute()
      }
    })
  }
}
