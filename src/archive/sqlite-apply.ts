// Repo changes written to SQLite, the embedded archive: the changes that reach the store in one
// turn of the event loop are written together in one transaction, each in a savepoint of its
// own, and every row as a fixed single-row statement (prepared once and kept by the driver), so
// no query is built or compiled per commit. Under load, building and compiling the chunked
// transaction's queries cost the main thread about as much as SQLite's own work, and each
// commit's transaction wrote the same B-tree pages (the repo's row, the index's upper levels)
// to the WAL again; written together, a page is written once per group.
//
// Each change is all or nothing on its own: one that fails (a driver error) is rolled back to its
// savepoint and only its caller gets the error; the others of the group are committed. A change
// whose stored head is no longer the one it was worked out from writes nothing and answers false,
// as on PostgreSQL. Every caller is answered only once the group's transaction has committed.
//
// Queue: changes wait here for at most one turn of the event loop; a group takes at most
// GROUP_MAX of them and the rest go in the next transaction. There is no bound of its own: the
// callers are bounded (each change is an event in flight, which hosts' flow control caps, or
// one of a few repairs and compactions, one per repo at a time).
// Deliberately not here: working a change out (mirror-change.ts), PostgreSQL (pg-apply.ts).
import { CompiledQuery, type Kysely } from 'kysely'
import { wrapDriverError } from '../db/errors.ts'
import type { ArchiveDatabase } from './archive-db.ts'
import { cidToBytes, type HeadCheck, type RepoChange, recordCounts } from './repo-change.ts'
import type { ArchiveSchema } from './schema.ts'

/** Changes written in one transaction at most. */
export const GROUP_MAX = 64

interface Queued {
  readonly did: string
  readonly change: RepoChange
  readonly now: string
  readonly over: HeadCheck | undefined
  resolve(written: boolean): void
  reject(err: unknown): void
}

const q = (text: string, params: readonly unknown[] = []) => CompiledQuery.raw(text, [...params])

const SELECT_HEAD = 'select id, commit_cid from repo where did = ?'
const UPSERT_HEAD = `insert into repo (did, rev, commit_cid, data_cid, commit_block, updated_at)
  values (?, ?, ?, ?, ?, ?)
  on conflict (did) do update set rev = excluded.rev, commit_cid = excluded.commit_cid,
    data_cid = excluded.data_cid, commit_block = excluded.commit_block,
    updated_at = excluded.updated_at
  returning id`
const INSERT_NODE = `insert into repo_block (repo_id, cid, rev, refs, data) values (?, ?, ?, 1, ?)
  on conflict (repo_id, cid) do nothing`
const ADD_RECORD = `insert into repo_block (repo_id, cid, rev, refs, data) values (?, ?, ?, ?, ?)
  on conflict (repo_id, cid) do update set refs = repo_block.refs + excluded.refs`
const DROP_REFS = 'update repo_block set refs = refs - ? where repo_id = ? and cid = ?'
const DELETE_BLOCK = 'delete from repo_block where repo_id = ? and cid = ?'
const DELETE_UNREFERENCED = 'delete from repo_block where repo_id = ? and cid = ? and refs <= 0'

export class SqliteApplier {
  readonly #adb: ArchiveDatabase
  #queue: Queued[] = []
  /** The write of the queued changes is scheduled (and counted in flight by the database). */
  #scheduled = false

  constructor(adb: ArchiveDatabase) {
    this.#adb = adb
  }

  /**
   * Writes the change in the next group. With `over`, only if that is still the stored head
   * (false otherwise, nothing written); without it, the repo is created or replaced.
   */
  apply(
    did: string,
    change: RepoChange,
    now: string,
    over: HeadCheck | undefined,
  ): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      this.#queue.push({ did, change, now, over, resolve, reject })
      if (!this.#scheduled) this.#schedule()
    })
  }

  #schedule(): void {
    this.#scheduled = true
    // Through `run` at once, so closing the database waits for the group (or refuses it).
    this.#adb
      .run('repos.apply', (db) =>
        new Promise<void>((r) => setImmediate(r)).then(() =>
          db.connection().execute((conn) => this.#writeGroups(conn)),
        ),
      )
      .catch((err: unknown) => {
        // No connection to write with (the database closed, or cannot be reached).
        for (const c of this.#queue.splice(0)) c.reject(err)
      })
      .finally(() => {
        this.#scheduled = false
        if (this.#queue.length > 0) this.#schedule()
      })
  }

  async #writeGroups(conn: Kysely<ArchiveSchema>): Promise<void> {
    while (this.#queue.length > 0) {
      const group = this.#queue.splice(0, GROUP_MAX)
      const outcomes: ({ ok: true; written: boolean } | { ok: false; err: unknown })[] = []
      try {
        // Immediate: the write lock is taken (or waited for) up front. A deferred transaction
        // whose first statement reads would fail at once, busy, when it came to write while
        // another connection held the lock, and take every change of the group with it.
        await conn.executeQuery(q('begin immediate'))
        for (const c of group) {
          await conn.executeQuery(q('savepoint change'))
          let written: boolean
          try {
            written = await writeChange(conn, c)
          } catch (err) {
            // If SQLite already rolled the whole transaction back (an I/O error, out of
            // memory), there is no savepoint left: the group fails with this change's error.
            await conn.executeQuery(q('rollback to change')).catch(() => {
              throw err
            })
            await conn.executeQuery(q('release change'))
            outcomes.push({ ok: false, err: wrapDriverError('repos.apply', err) })
            continue
          }
          await conn.executeQuery(q('release change'))
          outcomes.push({ ok: true, written })
        }
        await conn.executeQuery(q('commit'))
      } catch (err) {
        await conn.executeQuery(q('rollback')).catch(() => {})
        const failed = wrapDriverError('repos.apply', err)
        for (const c of group) c.reject(failed)
        continue
      }
      group.forEach((c, i) => {
        const o = outcomes[i]!
        if (o.ok) c.resolve(o.written)
        else c.reject(o.err)
      })
    }
  }
}

async function writeChange(conn: Kysely<ArchiveSchema>, c: Queued): Promise<boolean> {
  const { change } = c
  const run = (text: string, params: readonly unknown[]) => conn.executeQuery(q(text, params))
  if (c.over !== undefined) {
    const current = (await run(SELECT_HEAD, [c.did])).rows[0] as
      | { id: number; commit_cid: string }
      | undefined
    if (current?.id !== c.over.id || current.commit_cid !== c.over.commitCid) return false
  }
  const { head } = change
  const upserted = await run(UPSERT_HEAD, [
    c.did,
    head.rev,
    head.commitCid,
    head.dataCid,
    head.commitBlock,
    c.now,
  ])
  const id = (upserted.rows[0] as { id: number }).id
  for (const [cid, data] of change.addNodes)
    await run(INSERT_NODE, [id, cidToBytes(cid), head.rev, data])
  // References first, removals after: a block one path drops and another gains survives.
  const { gained, lost } = recordCounts(change)
  for (const [cid, g] of gained) await run(ADD_RECORD, [id, cidToBytes(cid), head.rev, g.n, g.data])
  for (const [cid, n] of lost) await run(DROP_REFS, [n, id, cidToBytes(cid)])
  for (const cid of change.removeNodes) await run(DELETE_BLOCK, [id, cidToBytes(cid)])
  for (const cid of lost.keys()) await run(DELETE_UNREFERENCED, [id, cidToBytes(cid)])
  return true
}
