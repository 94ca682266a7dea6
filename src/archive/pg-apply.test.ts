// PostgreSQL's one-statement write of a repo change (pg-apply.ts) against the chunked
// transaction every other change goes through: random changes that share record blocks between
// paths, gain and lose the same record in one change, add and drop nodes, over several repos,
// must leave both databases with exactly the same rows, and the reference counts a model of the
// repo expects, whether the statement is given the repo's id or takes it from the head's upsert.
// One change too big for one statement takes the transaction on both sides.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import * as CID from '@atcute/cid'
import { sql } from 'kysely'
import { PG_URL } from '../../test/support/pg-temp.ts'
import { fitsOneStatement, ONE_STATEMENT_MAX_PARAMS, oneStatementParams } from './pg-apply.ts'
import type { RepoChange } from './repo-change.ts'
import { cidFromBytes, RepoStore } from './repo-store.ts'
import { type TempArchive, tempArchive } from './testing.ts'

/** A deterministic generator, so a failure names a step that can be replayed. */
function random(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0
    return s / 2 ** 32
  }
}

async function blocks(prefix: string, n: number): Promise<[string, Uint8Array][]> {
  const out: [string, Uint8Array][] = []
  for (let i = 0; i < n; i++) {
    const data = new TextEncoder().encode(`${prefix}-${i}`)
    out.push([CID.toString(await CID.create(0x71, data)), data])
  }
  return out
}

async function rows(a: TempArchive, did: string) {
  const r = await sql<{ cid: Uint8Array; refs: number; rev: string; data: Uint8Array }>`
    select b.cid, b.refs, b.rev, b.data from repo_block b join repo r on r.id = b.repo_id
    where r.did = ${did} order by b.cid`.execute(a.adb.db)
  const head = await a.store.head(did)
  return {
    head: head && { rev: head.rev, commitCid: head.commitCid, dataCid: head.dataCid },
    blocks: r.rows.map((b) => ({
      cid: cidFromBytes(b.cid),
      refs: b.refs,
      rev: b.rev,
      data: Buffer.from(b.data).toString(),
    })),
  }
}

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
    const slow = new RepoStore(chunked.adb, now, { oneStatement: false })
    const transactions = countTransactions(one)
    const nodePool = await blocks('node', 40)
    const recordPool = await blocks('record', 25)
    const commit = (await blocks('commit', 1))[0]!
    const next = random(12)
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!
    const dids = ['did:plc:aaaa', 'did:plc:bbbb', 'did:plc:cccc']
    const model = new Map(
      dids.map((d) => [d, { nodes: new Set<string>(), refs: new Map<string, number>() }]),
    )

    for (let step = 0; step < 150; step++) {
      const did = pick(dids)
      const m = model.get(did)!
      const addNodes = new Map<string, Uint8Array>()
      for (let i = Math.floor(next() * 4); i > 0; i--) {
        const [cid, data] = pick(nodePool)
        if (!m.nodes.has(cid)) addNodes.set(cid, data)
      }
      const removeNodes = [...m.nodes].filter(() => next() < 0.15).filter((c) => !addNodes.has(c))
      const addRecords: [string, Uint8Array][] = []
      for (let i = Math.floor(next() * 4); i > 0; i--) addRecords.push(pick(recordPool))
      const removeRecords: string[] = []
      for (const [cid, n] of m.refs)
        for (let k = 0; k < n; k++) if (next() < 0.2) removeRecords.push(cid)
      const rev = `3l${String(1000 + step)}aaaaaaa`
      const change: RepoChange = {
        head: { rev, commitCid: commit[0], dataCid: pick(nodePool)[0], commitBlock: commit[1] },
        addNodes,
        removeNodes,
        addRecords,
        removeRecords,
      }
      assert.ok(oneStatementParams(change) <= ONE_STATEMENT_MAX_PARAMS)
      // Mostly as the mirror writes a commit (the stored repo's id known), sometimes without it.
      const stored = await fast.head(did)
      assert.equal(await fast.apply(did, change, next() < 0.7 ? stored : undefined), true)
      await slow.apply(did, change)
      for (const c of addNodes.keys()) m.nodes.add(c)
      for (const c of removeNodes) m.nodes.delete(c)
      for (const [c] of addRecords) m.refs.set(c, (m.refs.get(c) ?? 0) + 1)
      for (const c of removeRecords) m.refs.set(c, m.refs.get(c)! - 1)
      for (const [c, n] of m.refs) if (n <= 0) m.refs.delete(c)

      const got = await rows(one, did)
      assert.deepEqual(got, await rows(chunked, did), `step ${step}: ${did}`)
      const refs = new Map(
        got.blocks.filter((b) => b.data.startsWith('record')).map((b) => [b.cid, b.refs]),
      )
      assert.deepEqual(refs, m.refs, `step ${step}: record references`)
      const nodes = new Set(got.blocks.filter((b) => b.data.startsWith('node')).map((b) => b.cid))
      assert.deepEqual(nodes, m.nodes, `step ${step}: nodes`)
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
    const slow = new RepoStore(chunked.adb, () => 0, { oneStatement: false })
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
    const slow = new RepoStore(chunked.adb, () => 0, { oneStatement: false })
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
