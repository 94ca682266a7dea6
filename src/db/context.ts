// What every store is built on: the Kysely handle it queries (the root database or one open
// transaction), the clock, and `run`, which every public store method goes through. For the root
// context `run` refuses work after close() and tracks operations in flight so close() can wait
// for them; for a transaction context it only wraps errors (the enclosing transaction is the one
// tracked). Either way driver errors leave as DatabaseError, never raw.
// Deliberately not here: SQL (the stores) and opening connections (database.ts, dialect.ts).

import type { Kysely } from 'kysely'
import { DatabaseError, wrapDriverError } from './errors.ts'
import type { Schema } from './schema.ts'

export interface StoreContext {
  readonly db: Kysely<Schema>
  /** Current time; timestamps are written as `now().toISOString()`. */
  readonly now: () => Date
  /** Runs one store operation: refuses it when closed, wraps driver errors. */
  run<T>(operation: string, fn: (db: Kysely<Schema>) => Promise<T>): Promise<T>
}

/** Root context: one per RelayDatabase. */
export class RootContext implements StoreContext {
  readonly db: Kysely<Schema>
  readonly now: () => Date
  #closed = false
  readonly #inFlight = new Set<Promise<unknown>>()

  constructor(db: Kysely<Schema>, now: () => Date) {
    this.db = db
    this.now = now
  }

  get closed(): boolean {
    return this.#closed
  }

  run<T>(operation: string, fn: (db: Kysely<Schema>) => Promise<T>): Promise<T> {
    return this.track(operation, (db) =>
      fn(db).catch((err: unknown) => {
        throw wrapDriverError(operation, err)
      }),
    )
  }

  /** Like `run` without wrapping errors: for operations that run callers' code. */
  track<T>(operation: string, fn: (db: Kysely<Schema>) => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new DatabaseError(operation, 'closed'))
    const p = fn(this.db)
    this.#inFlight.add(p)
    const forget = () => this.#inFlight.delete(p)
    p.then(forget, forget)
    return p
  }

  /** Refuses new operations, then waits for those in flight (their failures are theirs). */
  async drain(): Promise<void> {
    this.#closed = true
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight])
  }
}

/** Context bound to one open transaction: used only inside `RelayDatabase.transaction`. */
export class TransactionContext implements StoreContext {
  readonly db: Kysely<Schema>
  readonly now: () => Date

  constructor(trx: Kysely<Schema>, now: () => Date) {
    this.db = trx
    this.now = now
  }

  async run<T>(operation: string, fn: (db: Kysely<Schema>) => Promise<T>): Promise<T> {
    try {
      return await fn(this.db)
    } catch (err) {
      throw wrapDriverError(operation, err)
    }
  }
}

/**
 * Runs `fn` atomically: in a new transaction, or directly when `db` already is one (a store
 * method called through `RelayDatabase.transaction` joins the caller's transaction).
 */
export function atomically<T>(db: Kysely<Schema>, fn: (trx: Kysely<Schema>) => Promise<T>) {
  if (db.isTransaction) return fn(db)
  return db.transaction().execute(fn)
}
