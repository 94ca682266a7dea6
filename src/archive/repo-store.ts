// The mirror's storage: each repo's head, and the blocks of its current tree (MST nodes and
// records) with a reference count for record blocks. Every write of a repo is one transaction,
// so a crash leaves a repo at its old head or its new one, never between. CIDs are stored in
// binary form (36 bytes, not 59 characters): the blocks table is most of the archive.
// Reads page by CID so an export of a large repo never holds it all in memory.
// Deliberately not here: deciding what changes (mirror-change.ts), verification (verify/).
import type { Kysely, Transaction } from 'kysely'
import { chunkPolicyOf, chunks, keyChunks } from '../db/chunks.ts'
import type { ArchiveDatabase } from './archive-db.ts'
import { applyInOneStatement, fitsOneStatement } from './pg-apply.ts'
import {
  cidFromBytes,
  cidToBytes,
  type HeadCheck,
  type RepoChange,
  type RepoHead,
  recordCounts,
} from './repo-change.ts'
import type { ArchiveSchema } from './schema.ts'
import { SqliteApplier } from './sqlite-apply.ts'

/** Rows per INSERT (well under both databases' bound-parameter limits at 5 columns). */
const CHUNK = 500

export { cidFromBytes, cidToBytes } from './repo-change.ts'

export interface StoredRepo extends RepoHead {
  readonly did: string
  readonly id: number
  readonly updatedAt: string
}

export interface ArchiveTotals {
  readonly repos: number
  readonly blocks: number
  readonly bytes: number
}

export class RepoStore {
  readonly #adb: ArchiveDatabase
  readonly #now: () => number
  /** Off: every change is written as the chunked transaction (tests compare the two ways). */
  readonly #fastPath: boolean
  readonly #sqlite: SqliteApplier | undefined

  /**
   * `fastPath: false` writes every change as one chunked transaction of built queries, the
   * reference the faster ways (one statement on PostgreSQL, grouped single-row statements on
   * SQLite) are tested against.
   */
  constructor(
    adb: ArchiveDatabase,
    now: () => number = Date.now,
    options: { fastPath?: boolean } = {},
  ) {
    this.#adb = adb
    this.#now = now
    this.#fastPath = options.fastPath ?? true
    this.#sqlite =
      adb.dialect === 'sqlite' && this.#fastPath && !adb.writer ? new SqliteApplier(adb) : undefined
  }

  head(did: string): Promise<StoredRepo | undefined> {
    return this.#adb.run('repos.head', (db) => selectHead(db, did))
  }

  /** Runs `fn` over one consistent state of the store (a repo export streamed over time). */
  snapshot<T>(fn: (reader: RepoReader) => Promise<T>): Promise<T> {
    return this.#adb.snapshot('repos.snapshot', (db) =>
      fn({
        head: (did) => selectHead(db, did),
        blocks: (did, cids) => selectBlocks(db, did, cids),
        blockPage: (did, after, limit, since) => selectBlockPage(db, did, after, limit, since),
      }),
    )
  }

  /** The blocks of the repo among `cids` (nodes or records), by CID string. */
  async blocks(did: string, cids: readonly string[]): Promise<Map<string, Uint8Array>> {
    if (cids.length === 0) return new Map()
    return this.#adb.run('repos.blocks', (db) => selectBlocks(db, did, cids))
  }

  /**
   * The blocks among `cids` of the repo whose row id is known (its head was just read): one
   * query, where `blocks` needs two. The mirror's tree diff reads nodes one at a time.
   */
  async blocksOfRepo(repoId: number, cids: readonly string[]): Promise<Map<string, Uint8Array>> {
    if (cids.length === 0) return new Map()
    return this.#adb.run('repos.blocksOfRepo', (db) => selectBlocksOf(db, repoId, cids))
  }

  /**
   * Applies one change (a commit, or a whole repo replacing the stored one) atomically. On
   * PostgreSQL a change of commit size is one statement (pg-apply.ts: one round trip), anything
   * bigger one transaction of chunked statements; on SQLite the changes of one turn of the event
   * loop share a transaction, each in a savepoint of its own (sqlite-apply.ts). With `over`,
   * the stored head the change was worked out from (its row id lets PostgreSQL plan for the
   * repo's one partition), nothing is written and false is answered unless that is still the
   * stored head; without it, the repo is new and created, or replaced whatever it holds.
   */
  async apply(
    did: string,
    change: RepoChange,
    over?: HeadCheck,
    now = new Date(this.#now()).toISOString(),
  ): Promise<boolean> {
    const { head } = change
    const writer = this.#adb.writer
    if (writer) {
      const check = over && { id: over.id, commitCid: over.commitCid }
      return writer.apply(did, change, now, check)
    }
    if (this.#sqlite) return this.#sqlite.apply(did, change, now, over)
    if (this.#adb.dialect === 'postgres' && this.#fastPath && fitsOneStatement(change)) {
      return this.#adb.run('repos.apply', (db) => applyInOneStatement(db, did, change, now, over))
    }
    const policy = chunkPolicyOf(this.#adb.dialect)
    return this.#adb.transaction('repos.apply', async (trx) => {
      if (over !== undefined) {
        const current = await trx
          .selectFrom('repo')
          .select(['id', 'commit_cid'])
          .where('did', '=', did)
          .executeTakeFirst()
        if (current?.id !== over.id || current.commit_cid !== over.commitCid) return false
      }
      const id = await upsertHead(trx, did, head, now)
      const rev = head.rev
      const nodes = [...change.addNodes].map(([cid, data]) => ({
        repo_id: id,
        cid: cidToBytes(cid),
        rev,
        refs: 1,
        data,
      }))
      for (const chunk of chunks(nodes, CHUNK, policy)) {
        await trx
          .insertInto('repo_block')
          .values(chunk)
          .onConflict((oc) => oc.columns(['repo_id', 'cid']).doNothing())
          .execute()
      }
      // References first, removals after: a block one path drops and another gains survives.
      const { gained, lost } = recordCounts(change)
      const records = [...gained].map(([cid, g]) => ({
        repo_id: id,
        cid: cidToBytes(cid),
        rev,
        refs: g.n,
        data: g.data,
      }))
      for (const chunk of chunks(records, CHUNK, policy)) {
        await trx
          .insertInto('repo_block')
          .values(chunk)
          .onConflict((oc) =>
            oc
              .columns(['repo_id', 'cid'])
              .doUpdateSet((eb) => ({ refs: eb('repo_block.refs', '+', eb.ref('excluded.refs')) })),
          )
          .execute()
      }
      for (const [cid, n] of lost) {
        await trx
          .updateTable('repo_block')
          .set((eb) => ({ refs: eb('refs', '-', n) }))
          .where('repo_id', '=', id)
          .where('cid', '=', cidToBytes(cid))
          .execute()
      }
      const nodesGone = change.removeNodes.map(cidToBytes)
      for (const chunk of keyChunks(nodesGone, CHUNK)) {
        await trx
          .deleteFrom('repo_block')
          .where('repo_id', '=', id)
          .where('cid', 'in', chunk)
          .execute()
      }
      const recordsGone = [...lost.keys()].map(cidToBytes)
      for (const chunk of keyChunks(recordsGone, CHUNK)) {
        await trx
          .deleteFrom('repo_block')
          .where('repo_id', '=', id)
          .where('cid', 'in', chunk)
          .where('refs', '<=', 0)
          .execute()
      }
      return true
    })
  }

  /** Forgets a repo and all its blocks; false when it was not mirrored. */
  async delete(did: string): Promise<boolean> {
    if (this.#adb.writer) return this.#adb.writer.delete(did)
    return this.#adb.transaction('repos.delete', async (trx) => {
      const id = await repoId(trx, did)
      if (id === undefined) return false
      await trx.deleteFrom('repo_block').where('repo_id', '=', id).execute()
      await trx.deleteFrom('repo').where('id', '=', id).execute()
      return true
    })
  }

  /**
   * A page of the repo's blocks in CID order after `afterCid` (binary form; null: from the
   * start), optionally only those added after revision `since`.
   */
  async blockPage(
    did: string,
    afterCid: Uint8Array | null,
    limit: number,
    since?: string,
  ): Promise<{ cid: Uint8Array; data: Uint8Array }[]> {
    return this.#adb.run('repos.blockPage', (db) =>
      selectBlockPage(db, did, afterCid, limit, since),
    )
  }

  /** Every block CID of a repo (binary), in CID order: what compaction checks against the tree. */
  async blockCids(did: string, afterCid: Uint8Array | null, limit: number): Promise<Uint8Array[]> {
    return this.#adb.run('repos.blockCids', async (db) => {
      const id = await repoId(db, did)
      if (id === undefined) return []
      let q = db.selectFrom('repo_block').select('cid').where('repo_id', '=', id)
      if (afterCid) q = q.where('cid', '>', afterCid)
      return (await q.orderBy('cid').limit(limit).execute()).map((r) => r.cid)
    })
  }

  /** Deletes blocks of a repo by CID whatever their references (compaction's sweep). */
  async deleteBlocks(did: string, cids: readonly Uint8Array[]): Promise<number> {
    if (cids.length === 0) return 0
    if (this.#adb.writer) return this.#adb.writer.deleteBlocks(did, cids)
    return this.#adb.transaction('repos.deleteBlocks', async (trx) => {
      const id = await repoId(trx, did)
      if (id === undefined) return 0
      let n = 0
      for (const chunk of keyChunks(cids, CHUNK)) {
        const r = await trx
          .deleteFrom('repo_block')
          .where('repo_id', '=', id)
          .where('cid', 'in', chunk)
          .executeTakeFirst()
        n += Number(r.numDeletedRows)
      }
      return n
    })
  }

  /** Mirrored DIDs after `afterDid`, in order (compaction walks every repo). */
  async dids(afterDid: string | null, limit: number): Promise<string[]> {
    return this.#adb.run('repos.dids', async (db) => {
      let q = db.selectFrom('repo').select('did')
      if (afterDid !== null) q = q.where('did', '>', afterDid)
      return (await q.orderBy('did').limit(limit).execute()).map((r) => r.did)
    })
  }

  /** How many repos the mirror holds (cheap: one row per repo). */
  async repoCount(): Promise<number> {
    return this.#adb.run('repos.count', async (db) => {
      const r = await db
        .selectFrom('repo')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
      return Number(r.n)
    })
  }

  /** Repos, blocks and block bytes held (a full scan of the blocks: benchmarks and tests). */
  async totals(): Promise<ArchiveTotals> {
    return this.#adb.run('repos.totals', async (db) => {
      const repos = await db
        .selectFrom('repo')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow()
      const blocks = await db
        .selectFrom('repo_block')
        .select((eb) => [
          eb.fn.countAll<number>().as('n'),
          eb.fn.coalesce(eb.fn.sum<number>(eb.fn('length', ['data'])), eb.lit(0)).as('bytes'),
        ])
        .executeTakeFirstOrThrow()
      return { repos: Number(repos.n), blocks: Number(blocks.n), bytes: Number(blocks.bytes) }
    })
  }
}

/** What a consistent read of the store offers (RepoStore.snapshot). */
export interface RepoReader {
  head(did: string): Promise<StoredRepo | undefined>
  blocks(did: string, cids: readonly string[]): Promise<Map<string, Uint8Array>>
  blockPage(
    did: string,
    afterCid: Uint8Array | null,
    limit: number,
    since?: string,
  ): Promise<{ cid: Uint8Array; data: Uint8Array }[]>
}

async function selectHead(db: Kysely<ArchiveSchema>, did: string): Promise<StoredRepo | undefined> {
  const row = await db.selectFrom('repo').selectAll().where('did', '=', did).executeTakeFirst()
  return (
    row && {
      did: row.did,
      id: row.id,
      rev: row.rev,
      commitCid: row.commit_cid,
      dataCid: row.data_cid,
      commitBlock: row.commit_block,
      updatedAt: row.updated_at,
    }
  )
}

async function selectBlocks(
  db: Kysely<ArchiveSchema>,
  did: string,
  cids: readonly string[],
): Promise<Map<string, Uint8Array>> {
  const id = cids.length === 0 ? undefined : await repoId(db, did)
  return id === undefined ? new Map() : selectBlocksOf(db, id, cids)
}

async function selectBlocksOf(
  db: Kysely<ArchiveSchema>,
  id: number,
  cids: readonly string[],
): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>()
  for (const part of keyChunks(cids, CHUNK)) {
    const chunk = part.map(cidToBytes)
    const rows = await db
      .selectFrom('repo_block')
      .select(['cid', 'data'])
      .where('repo_id', '=', id)
      .where('cid', 'in', chunk)
      .execute()
    for (const r of rows) out.set(cidFromBytes(r.cid), r.data)
  }
  return out
}

async function selectBlockPage(
  db: Kysely<ArchiveSchema>,
  did: string,
  afterCid: Uint8Array | null,
  limit: number,
  since: string | undefined,
): Promise<{ cid: Uint8Array; data: Uint8Array }[]> {
  const id = await repoId(db, did)
  if (id === undefined) return []
  let q = db.selectFrom('repo_block').select(['cid', 'data']).where('repo_id', '=', id)
  if (afterCid) q = q.where('cid', '>', afterCid)
  if (since !== undefined) q = q.where('rev', '>', since)
  return q.orderBy('cid').limit(limit).execute()
}

async function repoId(db: Kysely<ArchiveSchema>, did: string): Promise<number | undefined> {
  const row = await db.selectFrom('repo').select('id').where('did', '=', did).executeTakeFirst()
  return row?.id
}

async function upsertHead(
  trx: Transaction<ArchiveSchema>,
  did: string,
  head: RepoHead,
  now: string,
): Promise<number> {
  const values = {
    rev: head.rev,
    commit_cid: head.commitCid,
    data_cid: head.dataCid,
    commit_block: head.commitBlock,
    updated_at: now,
  }
  const row = await trx
    .insertInto('repo')
    .values({ did, ...values })
    .onConflict((oc) => oc.column('did').doUpdateSet(values))
    .returning('id')
    .executeTakeFirstOrThrow()
  return row.id
}
