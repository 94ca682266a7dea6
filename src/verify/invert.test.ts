// Conformance: the atproto interop "commit proof" vectors (fixtures/interop/firehose/
// commit-proof-fixtures.json). Each case gives a tree's keys, the keys added and removed by one
// commit, the roots before and after, and the exact MST blocks a sync 1.1 commit must carry so
// that a relay can invert it (sync spec, "Commit Validation"). We build both trees, give the
// inverter only the proof blocks, and require it to arrive at the root before the commit,
// whatever the order of the ops.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { BytesWrapper, encode } from '@atcute/cbor'
import { type CidLink, fromString, toCidLink } from '@atcute/cid'
import { MemoryBlockStore, NodeStore, NodeWrangler } from '@atcute/mst'
import { readFixtureJson } from '../../test/support/fixtures.ts'
import { cidStringForDagCbor } from '../protocol/cid.ts'
import { EMPTY_MST_ROOT, invertOps, type RepoOp } from './invert.ts'

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

      const forward = invertOps(blocks, c.rootAfterCommit, ops)
      assert.deepEqual(forward, { ok: true, previousRoot: c.rootBeforeCommit })
      const reversed = invertOps(blocks, c.rootAfterCommit, [...ops].reverse())
      assert.deepEqual(reversed, { ok: true, previousRoot: c.rootBeforeCommit }, 'any op order')

      // Without the proof blocks there is nothing to invert.
      const none = invertOps(new Map(), c.rootAfterCommit, ops)
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
    const r = invertOps(blocks, c.rootAfterCommit, ops)
    assert.equal(r.ok, false)
  })
  test('two ops on one path', async () => {
    const c = cases[0]!
    const { store, leaf } = await buildTrees(c)
    const blocks = await proofBlocks(store, c.blocksInProof)
    const ops = opsFor(c, leaf)
    const r = invertOps(blocks, c.rootAfterCommit, [...ops, ops[0]!])
    assert.deepEqual(r, { ok: false, problem: `two ops on ${ops[0]!.path}` })
  })
})

describe('invertOps on small trees', () => {
  const leaf = (n: number): CidLink => toCidLink(fromString(cidStringForDagCbor(encode({ n }))))
  const a = 'com.example/aaa'
  const b = 'com.example/bbb'
  async function tree(keys: [string, CidLink][]) {
    const store = new MemoryBlockStore()
    const wrangler = new NodeWrangler(new NodeStore(store))
    let root: string | null = null
    for (const [k, v] of keys) root = await wrangler.putRecord(root, k, v)
    return { root: root!, blocks: new Map<string, Uint8Array>(store.blocks) }
  }

  test('no ops: the root itself', async () => {
    const { root, blocks } = await tree([[a, leaf(1)]])
    assert.deepEqual(invertOps(blocks, root, []), { ok: true, previousRoot: root })
  })
  test('creating every key of the tree undoes to the empty tree (a first commit)', async () => {
    const { root, blocks } = await tree([
      [a, leaf(1)],
      [b, leaf(2)],
    ])
    const ops: RepoOp[] = [
      { action: 'create', path: b, cid: leaf(2) },
      { action: 'create', path: a, cid: leaf(1) },
    ]
    assert.deepEqual(invertOps(blocks, root, ops), { ok: true, previousRoot: EMPTY_MST_ROOT })
  })
  test('an update to the CID it already had changes nothing', async () => {
    const { root, blocks } = await tree([[a, leaf(1)]])
    const op: RepoOp = { action: 'update', path: a, cid: leaf(1), prev: leaf(1) }
    assert.deepEqual(invertOps(blocks, root, [op]), {
      ok: false,
      problem: `update ${a} changes nothing`,
    })
  })
  test('an update or delete without prev', async () => {
    const { root, blocks } = await tree([[a, leaf(1)]])
    for (const op of [
      { action: 'update', path: a, cid: leaf(1) },
      { action: 'delete', path: b, cid: null },
    ] satisfies RepoOp[]) {
      assert.deepEqual(invertOps(blocks, root, [op]), {
        ok: false,
        problem: `${op.action} ${op.path} has no prev`,
      })
    }
  })
  test('a deleted path still in the tree; a path that is not an MST key', async () => {
    const { root, blocks } = await tree([[a, leaf(1)]])
    const del: RepoOp = { action: 'delete', path: a, cid: null, prev: leaf(1) }
    assert.deepEqual(invertOps(blocks, root, [del]), {
      ok: false,
      problem: `deleted ${a} is still in the tree`,
    })
    const bad: RepoOp = { action: 'delete', path: 'no-slash', cid: null, prev: leaf(1) }
    assert.equal(invertOps(blocks, root, [bad]).ok, false)
  })
  test('an MST block that is not canonical DAG-CBOR fails once it is read', () => {
    // A prefix length written as a float: it decodes (and passes the node checks) but is not
    // canonical, so the block is refused when the inversion reads it.
    const bytes = encode({
      l: null,
      e: [{ p: 0, k: new BytesWrapper(new TextEncoder().encode(a)), v: leaf(1), t: null }],
    })
    const hex = Buffer.from(bytes).toString('hex')
    const at = hex.indexOf('617000') // "p": 0
    assert.ok(at > 0)
    const floaty = Buffer.from(
      `${hex.slice(0, at)}6170fb0000000000000000${hex.slice(at + 6)}`,
      'hex',
    )
    const root = cidStringForDagCbor(floaty)
    const blocks = new Map([[root, new Uint8Array(floaty)]])
    assert.deepEqual(invertOps(blocks, root, []), { ok: true, previousRoot: root })
    const r = invertOps(blocks, root, [{ action: 'delete', path: b, cid: null, prev: leaf(2) }])
    assert.equal(r.ok, false)
    assert.match(r.ok ? '' : r.problem, new RegExp(`${root}.*float`))
  })
})
