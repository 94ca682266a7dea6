// Conformance: the atproto interop "commit proof" vectors (fixtures/interop/firehose/
// commit-proof-fixtures.json). Each case gives a tree's keys, the keys added and removed by one
// commit, the roots before and after, and the exact MST blocks a sync 1.1 commit must carry so
// that a relay can invert it (sync spec, "Commit Validation"). We build both trees, give the
// inverter only the proof blocks, and require it to arrive at the root before the commit,
// whatever the order of the ops.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type CidLink, fromString, toCidLink } from '@atcute/cid'
import { MemoryBlockStore, NodeStore, NodeWrangler } from '@atcute/mst'
import { readFixtureJson } from '../../test/support/fixtures.ts'
import { invertOps, type RepoOp } from './invert.ts'

interface ProofCase {
  comment: string
  leafValue: string
  keys: string[]
  adds: string[]
  dels: string[]
  rootBeforeCommit: string
  rootAfterCommit: string
  blocksInProof: string[]
}

const cases = readFixtureJson<ProofCase[]>('interop/firehose/commit-proof-fixtures.json')

async function buildTrees(c: ProofCase) {
  const store = new MemoryBlockStore()
  const wrangler = new NodeWrangler(new NodeStore(store))
  const leaf: CidLink = toCidLink(fromString(c.leafValue))
  let root: string | null = null
  for (const key of c.keys) root = await wrangler.putRecord(root, key, leaf)
  const before = root
  for (const key of c.adds) root = await wrangler.putRecord(root, key, leaf)
  for (const key of c.dels) root = await wrangler.deleteRecord(root, key)
  return { store, before, after: root, leaf }
}

function opsFor(c: ProofCase, leaf: CidLink): RepoOp[] {
  return [
    ...c.adds.map((path): RepoOp => ({ action: 'create', path, cid: leaf })),
    ...c.dels.map((path): RepoOp => ({ action: 'delete', path, cid: null, prev: leaf })),
  ]
}

async function proofBlocks(store: MemoryBlockStore, cids: string[]) {
  const blocks = new Map<string, Uint8Array>()
  for (const cid of cids) {
    const bytes = await store.get(cid)
    assert.ok(bytes, `proof block ${cid} exists in the built tree`)
    blocks.set(cid, bytes)
  }
  return blocks
}

describe('commit-proof-fixtures', () => {
  assert.equal(cases.length, 6)
  for (const c of cases) {
    test(c.comment, async () => {
      const { store, before, after, leaf } = await buildTrees(c)
      assert.equal(before, c.rootBeforeCommit, 'tree before the commit has the vector root')
      assert.equal(after, c.rootAfterCommit, 'tree after the commit has the vector root')
      const blocks = await proofBlocks(store, c.blocksInProof)
      const ops = opsFor(c, leaf)

      const forward = await invertOps(blocks, c.rootAfterCommit, ops)
      assert.deepEqual(forward, { ok: true, previousRoot: c.rootBeforeCommit })
      const reversed = await invertOps(blocks, c.rootAfterCommit, [...ops].reverse())
      assert.deepEqual(reversed, { ok: true, previousRoot: c.rootBeforeCommit }, 'any op order')

      // Without the proof blocks there is nothing to invert.
      const none = await invertOps(new Map(), c.rootAfterCommit, ops)
      assert.equal(none.ok, false, 'inversion without blocks fails')
    })
  }
})

describe('invertOps rejects ops that are not true of the tree', () => {
  test('a created path whose CID differs', async () => {
    const c = cases[0]!
    const { store, leaf } = await buildTrees(c)
    const blocks = await proofBlocks(store, c.blocksInProof)
    const other = toCidLink(fromString(c.rootBeforeCommit))
    const ops = opsFor(c, leaf).map((op) => (op.action === 'create' ? { ...op, cid: other } : op))
    const r = await invertOps(blocks, c.rootAfterCommit, ops)
    assert.equal(r.ok, false)
  })
  test('two ops on one path', async () => {
    const c = cases[0]!
    const { store, leaf } = await buildTrees(c)
    const blocks = await proofBlocks(store, c.blocksInProof)
    const ops = opsFor(c, leaf)
    const r = await invertOps(blocks, c.rootAfterCommit, [...ops, ops[0]!])
    assert.deepEqual(r, { ok: false, problem: `two ops on ${ops[0]!.path}` })
  })
})
