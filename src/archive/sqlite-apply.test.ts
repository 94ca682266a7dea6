// SQLite's grouped write of repo changes (sqlite-apply.ts) against the chunked transaction of
// built queries: random changes over several repos, written a group at a time (every repo's
// change of a step in the same turn, so in one transaction), must leave exactly the rows of the
// chunked transaction and the reference counts a model of each repo expects. Within a group, a
// change over a stale head writes nothing and a change the database refuses is rolled back
// alone; the others of the group are written. Closing the database waits for a queued group.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sql } from 'kysely'
import type { RepoChange } from './repo-change.ts'
import {
  testBlocks as blocks,
  blockRows as rows,
  tempArchive,
  writeAlongsideChunked,
} from './testing.ts'

type Archive = Awaited<ReturnType<typeof tempArchive>>

/** Empties the WAL (everything copied into the file), so its frames count what is written next. */
async function emptyWal(a: Archive): Promise<void> {
  await sql`pragma wal_checkpoint(truncate)`.execute(a.adb.db)
}

/** Frames in the WAL: the pages written since it was emptied, one per page per transaction. */
async function walFrames(a: Archive): Promise<number> {
  const r = await sql<{ log: number }>`pragma wal_checkpoint(passive)`.execute(a.adb.db)
  return r.rows[0]!.log
}

test('grouped SQLite writes leave the rows of the chunked transaction, step after step', async () => {
  await using grouped = await tempArchive('sqlite')
  await using chunked = await tempArchive('sqlite')
  await writeAlongsideChunked({ tested: grouped, reference: chunked, seed: 7, repos: 4, steps: 80 })
})

test('changes of one turn share one transaction; a stale head or a refused change fails alone', async () => {
  await using a = await tempArchive('sqlite')
  const [commit1, commit2] = await blocks('commit', 2)
  const records = await blocks('record', 4)
  const change = (commit: [string, Uint8Array], rev: string, i: number): RepoChange => ({
    head: { rev, commitCid: commit[0], dataCid: commit[0], commitBlock: commit[1] },
    addNodes: new Map(),
    removeNodes: [],
    addRecords: [records[i]!],
    removeRecords: [],
  })
  for (const [i, did] of ['did:plc:a', 'did:plc:b', 'did:plc:c'].entries())
    assert.equal(await a.store.apply(did, change(commit1!, '3laaaaaaaaaa2', i)), true)
  const heads = await Promise.all(['did:plc:a', 'did:plc:b'].map((d) => a.store.head(d)))
  const before = await rows(a, 'did:plc:b')

  // A node without bytes breaks the NOT NULL rule of `data`: the database refuses that change.
  const refused: RepoChange = {
    ...change(commit2!, '3laaaaaaaaaa3', 2),
    addNodes: new Map([[records[3]![0], null as unknown as Uint8Array]]),
  }
  const stale = { id: heads[1]!.id, commitCid: commit2![0] }
  const [ok, staleWritten, failed, fresh] = await Promise.allSettled([
    a.store.apply('did:plc:a', change(commit2!, '3laaaaaaaaaa3', 3), heads[0]),
    a.store.apply('did:plc:b', change(commit2!, '3laaaaaaaaaa3', 3), stale),
    a.store.apply('did:plc:c', refused),
    a.store.apply('did:plc:d', change(commit2!, '3laaaaaaaaaa3', 0)),
  ])
  assert.deepEqual(ok, { status: 'fulfilled', value: true })
  assert.deepEqual(staleWritten, { status: 'fulfilled', value: false })
  assert.equal(failed.status, 'rejected')
  assert.match(String((failed as PromiseRejectedResult).reason), /database repos\.apply failed/)
  assert.deepEqual(fresh, { status: 'fulfilled', value: true })

  assert.equal((await a.store.head('did:plc:a'))?.rev, '3laaaaaaaaaa3')
  assert.deepEqual(await rows(a, 'did:plc:b'), before, 'nothing written over a stale head')
  const c = await rows(a, 'did:plc:c')
  assert.equal(c.head?.rev, '3laaaaaaaaaa2', 'the refused change left its repo as it was')
  assert.deepEqual(
    c.blocks.map((b) => b.data),
    ['record-2'],
  )
  assert.equal((await a.store.head('did:plc:d'))?.rev, '3laaaaaaaaaa3')
})

test('changes of one turn are one transaction: fewer pages to the WAL than one at a time', async () => {
  const commit = (await blocks('commit', 1))[0]!
  const records = await blocks('record', 8)
  const dids = ['did:plc:a', 'did:plc:b', 'did:plc:c', 'did:plc:d']
  const change = (i: number): RepoChange => ({
    head: {
      rev: '3laaaaaaaaaa2',
      commitCid: commit[0],
      dataCid: commit[0],
      commitBlock: commit[1],
    },
    addNodes: new Map(),
    removeNodes: [],
    addRecords: [records[i]!, records[i + 4]!],
    removeRecords: [],
  })
  await using together = await tempArchive('sqlite')
  await using apart = await tempArchive('sqlite')
  await emptyWal(together)
  await emptyWal(apart)
  await Promise.all(dids.map((did, i) => together.store.apply(did, change(i))))
  for (const [i, did] of dids.entries()) await apart.store.apply(did, change(i))
  const grouped = await walFrames(together)
  const oneByOne = await walFrames(apart)
  // The same two pages (the repo table, the blocks table) written by one commit, or by four.
  assert.ok(grouped > 0 && grouped * 2 <= oneByOne, `${grouped} frames together, ${oneByOne} apart`)
  for (const did of dids) assert.deepEqual(await rows(together, did), await rows(apart, did))
})

test('closing the archive waits for the changes queued for the next group', async () => {
  const a = await tempArchive('sqlite')
  const [commit] = await blocks('commit', 1)
  const [record] = await blocks('record', 1)
  const writing = a.store.apply('did:plc:q', {
    head: {
      rev: '3laaaaaaaaaa2',
      commitCid: commit![0],
      dataCid: commit![0],
      commitBlock: commit![1],
    },
    addNodes: new Map(),
    removeNodes: [],
    addRecords: [record!],
    removeRecords: [],
  })
  await a.adb.close()
  assert.equal(await writing, true)
  await a[Symbol.asyncDispose]()
})
