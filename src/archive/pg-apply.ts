// A repo change written to PostgreSQL as one statement: the head's upsert and every block
// insert, reference change and deletion as data-modifying CTEs, so a commit costs one round
// trip instead of a transaction's eight or nine (begin, head, nodes, records, each reference
// decrement, node and record deletions, commit). Under load those round trips, each waiting for a
// turn of the relay's busy event loop, held a pooled connection for ~100 ms per commit and capped
// the mirror near 400 commits/s. One statement is one implicit transaction: still all or nothing.
//
// The CTEs of one statement all see the same snapshot and must not touch a row twice, so the
// reference counting the sequential writer does in steps (add, subtract, delete at zero) is
// worked out here first, per record CID, as one net change: a gain is an upsert adding it; a loss
// updates the rows it leaves above zero and deletes those it takes to zero or below, which are
// two disjoint sets of rows. A change in which a node and a record are the same block (a record
// can be written to look like a node) would insert one row from two CTEs, so it goes through the
// transaction instead, as do changes too big for one statement.
//
// Over a stored repo (the mirror knows its head: read, or remembered from its last write), the
// statement names the repo's row id instead of taking it from the head's upsert, so PostgreSQL
// prunes `repo_block` to the repo's one partition while planning (taken from the upsert, every
// CTE is planned over all partitions: ~2.4 ms of the database's CPU per commit), and it writes
// only if the stored head is still the one the change was worked out from.
// Deliberately not here: big changes (a whole repo's import), which go through the chunked
// transaction in repo-store.ts; SQLite, which has no round trips to save.
import { type Kysely, type RawBuilder, sql } from 'kysely'
import { cidToBytes, type HeadCheck, type RepoChange, recordCounts } from './repo-change.ts'
import type { ArchiveSchema } from './schema.ts'

/** Bound parameters one statement may carry here (PostgreSQL's limit is 65,535). */
export const ONE_STATEMENT_MAX_PARAMS = 4000

/** How many parameters `applyInOneStatement` binds for the change, at most. */
export function oneStatementParams(change: RepoChange): number {
  const records = new Set([...change.addRecords.map(([c]) => c), ...change.removeRecords]).size
  // The head's columns and checks, then per row: a record lost is bound twice (update, delete).
  return 16 + 2 * change.addNodes.size + change.removeNodes.length + 4 * records
}

/** Whether the change may be written as one statement (see the header). */
export function fitsOneStatement(change: RepoChange): boolean {
  if (oneStatementParams(change) > ONE_STATEMENT_MAX_PARAMS) return false
  const nodes = new Set([...change.addNodes.keys(), ...change.removeNodes])
  for (const [cid] of change.addRecords) if (nodes.has(cid)) return false
  for (const cid of change.removeRecords) if (nodes.has(cid)) return false
  return true
}

/**
 * Writes the change as one statement (the caller checks `fitsOneStatement` first). With `over`,
 * only if the repo's stored head is still that one; false when it is not (nothing written).
 */
export async function applyInOneStatement(
  db: Kysely<ArchiveSchema>,
  did: string,
  change: RepoChange,
  now: string,
  over?: HeadCheck,
): Promise<boolean> {
  const { head } = change
  const counts = recordCounts(change)
  const gained: RawBuilder<unknown>[] = []
  const lost: RawBuilder<unknown>[] = []
  for (const cid of new Set([...counts.gained.keys(), ...counts.lost.keys()])) {
    const g = counts.gained.get(cid)
    const n = (g?.n ?? 0) - (counts.lost.get(cid) ?? 0)
    if (n > 0) gained.push(sql`(${cidToBytes(cid)}::bytea, ${n}::int, ${g!.data}::bytea)`)
    else if (n < 0) lost.push(sql`(${cidToBytes(cid)}::bytea, ${-n}::int)`)
  }
  const ctes: RawBuilder<unknown>[] = [
    over === undefined
      ? sql`h as (
      insert into repo (did, rev, commit_cid, data_cid, commit_block, updated_at)
      values (${did}, ${head.rev}, ${head.commitCid}, ${head.dataCid}, ${head.commitBlock}, ${now})
      on conflict (did) do update set rev = excluded.rev, commit_cid = excluded.commit_cid,
        data_cid = excluded.data_cid, commit_block = excluded.commit_block,
        updated_at = excluded.updated_at
      returning id)`
      : sql`h as (
      update repo set rev = ${head.rev}, commit_cid = ${head.commitCid}, data_cid = ${head.dataCid},
        commit_block = ${head.commitBlock}, updated_at = ${now}
      where id = ${over.id} and did = ${did} and commit_cid = ${over.commitCid}
      returning id)`,
  ]
  // The repo's id as the block statements see it: a bound value the planner prunes with, or the
  // upsert's output.
  const id = over === undefined ? sql`h.id` : sql`${over.id}::int`
  if (change.addNodes.size > 0) {
    const rows = [...change.addNodes].map(([c, d]) => sql`(${cidToBytes(c)}::bytea, ${d}::bytea)`)
    ctes.push(sql`nodes_in as (
      insert into repo_block (repo_id, cid, rev, refs, data)
      select ${id}, v.cid, ${head.rev}::text, 1, v.data
      from h, (values ${sql.join(rows)}) as v(cid, data)
      on conflict (repo_id, cid) do nothing)`)
  }
  if (gained.length > 0) {
    ctes.push(sql`records_in as (
      insert into repo_block (repo_id, cid, rev, refs, data)
      select ${id}, v.cid, ${head.rev}::text, v.n, v.data
      from h, (values ${sql.join(gained)}) as v(cid, n, data)
      on conflict (repo_id, cid) do update set refs = repo_block.refs + excluded.refs)`)
  }
  if (lost.length > 0) {
    const values = sql`(values ${sql.join(lost)}) as v(cid, n)`
    ctes.push(sql`records_less as (
      update repo_block b set refs = b.refs - v.n from h, ${values}
      where b.repo_id = ${id} and b.cid = v.cid and b.refs - v.n > 0)`)
    ctes.push(sql`records_out as (
      delete from repo_block b using h, ${values}
      where b.repo_id = ${id} and b.cid = v.cid and b.refs - v.n <= 0)`)
  }
  if (change.removeNodes.length > 0) {
    const cids = change.removeNodes.map((c) => sql`${cidToBytes(c)}::bytea`)
    ctes.push(sql`nodes_out as (
      delete from repo_block b using h where b.repo_id = ${id} and b.cid in (${sql.join(cids)}))`)
  }
  // Every CTE joins `h`: a head that is not the expected one leaves it empty and writes nothing.
  const out = await sql<{ id: number }>`with ${sql.join(ctes)} select id from h`.execute(db)
  return out.rows.length === 1
}
