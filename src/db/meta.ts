// MetaStore: the `meta` key/value table for small checkpoints and settings that have no table of
// their own (e.g. `accounts_checkpoint_seq`, `cursors_checkpoint_seq`). Values are text; callers
// encode numbers and JSON themselves. To write a checkpoint atomically with other rows, use the
// MetaStore handed out by RelayDatabase.transaction.
// Deliberately not here: what the keys mean (each owner documents its own keys).

import type { StoreContext } from './context.ts'

export class MetaStore {
  readonly #ctx: StoreContext

  constructor(ctx: StoreContext) {
    this.#ctx = ctx
  }

  get(key: string): Promise<string | undefined> {
    return this.#ctx.run('meta.get', async (db) => {
      const row = await db
        .selectFrom('meta')
        .select('value')
        .where('key', '=', key)
        .executeTakeFirst()
      return row?.value
    })
  }

  /** Inserts or overwrites the value. */
  set(key: string, value: string): Promise<void> {
    return this.#ctx.run('meta.set', async (db) => {
      await db
        .insertInto('meta')
        .values({ key, value })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
        .execute()
    })
  }

  /** Every key starting with `prefix`, with its value, in key order. */
  entries(prefix: string): Promise<{ key: string; value: string }[]> {
    return this.#ctx.run('meta.entries', async (db) => {
      const rows = await db
        .selectFrom('meta')
        .select(['key', 'value'])
        // LIKE may match more (`_` is a wildcard, SQLite ignores case); the filter below is exact.
        .where('key', 'like', `${prefix}%`)
        .orderBy('key')
        .execute()
      return rows.filter((r) => r.key.startsWith(prefix))
    })
  }

  /** Removes the key (no error when it is absent). */
  delete(key: string): Promise<void> {
    return this.#ctx.run('meta.delete', async (db) => {
      await db.deleteFrom('meta').where('key', '=', key).execute()
    })
  }
}
