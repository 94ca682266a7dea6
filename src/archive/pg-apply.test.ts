// PostgreSQL's one-statement write of a repo change (pg-apply.ts) against the chunked
// transaction every other change goes through: random changes that share record blocks between
// paths, gain and lose the same record in one change, add and drop nodes, over several repos,
// must leave both databases with exactly the same rows, and the reference counts a model of the
// repo expects, whether the statement is given the repo's id or takes it from the head's upsert.
// One change too big for one statement takes the transaction on both sides.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { PG_URL } from '../../test/support/pg-temp.ts'
import { fitsOneStatement, ONE_STATEMENT_MAX_PARAMS, oneStatementParams } from './pg-apply.ts'
import type { RepoChange } from './repo-change.ts'
import { RepoStore } from './repo-store.ts'
import {
  testBlocks as blocks,
  RepoModel,
  random,
  blockRows as rows,
  type TempArchive,
  tempArchive,
} from './testing.ts'

/** Counts the transactions the archive opens from now on (the one-statement path opens none). */
function countTransactions(a: TempArchive): () => number {
  let n = 0
  const open = a.adb.transaction.bind(a.adb)
  a.adb.transaction = (operation, fn) => {
    n++
    return open(operation, fn)
  }
  return () => n
}

describe('one-statement repo writes on PostgreSQL', {
  skip: !PG_URL && 'RELAY_TEST_POSTGRES_URL not set',
}, () => {
  test('leave the same rows as the chunked transaction, change after change', async () => {
    await using one = await tempArchive('postgres')
    await using chunked = await tempArchive('postgres')
    const now = () => 1_796_000_000_000
    const fast = new RepoStore(one.adb, now)
    const slow = new RepoStore(chunked.adb, now, { fastPath: false })
    const transactions = countTransactions(one)
    const pools = {
      nodes: await blocks('node', 40),
      records: await blocks('record', 25),
      commit: (await blocks('commit', 1))[0]!,
    }
    const next = random(12)
    const dids = ['did:plc:aaaa', 'did:plc:bbbb', 'did:plc:cccc']
    const model = new Map(dids.map((d) => [d, new RepoModel()]))

    for (let step = 0; step < 150; step++) {
      const did = dids[Math.floor(next() * dids.length)]!
      const m = model.get(did)!
      const change = m.change(next, pools, `3l${String(1000 + step)}aaaaaaa`)
      assert.ok(oneStatementParams(change) <= ONE_STATEMENT_MAX_PARAMS)
      // Mostly as the mirror writes a commit (the stored repo's id known), sometimes without it.
      const stored = await fast.head(did)
      assert.equal(await fast.apply(did, change, next() < 0.7 ? stored : undefined), true)
      await slow.apply(did, change)
      const got = await rows(one, did)
      assert.deepEqual(got, await rows(chunked, did), `step ${step}: ${did}`)
      m.check(got, `step ${step}`)
    }
    assert.equal(transactions(), 0, 'every change went out as one statement')
  })

  test('write nothing over a head that is no longer the stored one', async () => {
    await using a = await tempArchive('postgres')
    const [commit1, commit2] = await blocks('commit', 2)
    const [record] = await blocks('record', 1)
    const change = (commit: [string, Uint8Array], rev: string): RepoChange => ({
      head: { rev, commitCid: commit[0], dataCid: commit[0], commitBlock: commit[1] },
      addNodes: new Map(),
      removeNodes: [],
      addRecords: [record!],
      removeRecords: [],
    })
    assert.equal(await a.store.apply('did:plc:x', change(commit1!, '3laaaaaaaaaa2')), true)
    const stored = (await a.store.head('did:plc:x'))!
    const before = await rows(a, 'did:plc:x')
    const stale = { id: stored.id, commitCid: commit2![0] }
    assert.equal(await a.store.apply('did:plc:x', change(commit2!, '3laaaaaaaaaa3'), stale), false)
    assert.deepEqual(await rows(a, 'did:plc:x'), before, 'nothing written')
    await a.store.delete('did:plc:x')
    assert.equal(await a.store.apply('did:plc:x', change(commit2!, '3laaaaaaaaaa3'), stored), false)
    assert.equal(await a.store.head('did:plc:x'), undefined, 'a deleted repo is not brought back')
  })

  test('a change whose record is also a node goes through the transaction, the same way', async () => {
    await using one = await tempArchive('postgres')
    await using chunked = await tempArchive('postgres')
    const fast = new RepoStore(one.adb, () => 0)
    const slow = new RepoStore(chunked.adb, () => 0, { fastPath: false })
    const [shared, commit] = await blocks('x', 2)
    const change: RepoChange = {
      head: {
        rev: '3laaaaaaaaaa2',
        commitCid: commit![0],
        dataCid: shared![0],
        commitBlock: commit![1],
      },
      addNodes: new Map([shared!]),
      removeNodes: [],
      addRecords: [shared!],
      removeRecords: [],
    }
    assert.equal(fitsOneStatement(change), false)
    await fast.apply('did:plc:y', change)
    await slow.apply('did:plc:y', change)
    assert.deepEqual(await rows(one, 'did:plc:y'), await rows(chunked, 'did:plc:y'))
  })

  test('a change too big for one statement is written by the transaction, the same way', async () => {
    await using one = await tempArchive('postgres')
    await using chunked = await tempArchive('postgres')
    const fast = new RepoStore(one.adb, () => 0)
    const slow = new RepoStore(chunked.adb, () => 0, { fastPath: false })
    const records = await blocks('record', 1100)
    const commit = (await blocks('commit', 1))[0]!
    const change: RepoChange = {
      head: {
        rev: '3laaaaaaaaaaa',
        commitCid: commit[0],
        dataCid: commit[0],
        commitBlock: commit[1],
      },
      addNodes: new Map(),
      removeNodes: [],
      addRecords: records,
      removeRecords: [],
    }
    assert.ok(oneStatementParams(change) > ONE_STATEMENT_MAX_PARAMS)
    await fast.apply('did:plc:big', change)
    await slow.apply('did:plc:big', change)
    const got = await rows(one, 'did:plc:big')
    assert.equal(got.blocks.length, 1100)
    assert.deepEqual(got, await rows(chunked, 'did:plc:big'))
  })
})
