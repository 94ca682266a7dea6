// Property: undoing a commit's ops on the new tree gives exactly the tree before it (sync spec,
// "Commit Validation"; repository spec, "Merkle Search Tree"). Trees are built and changed by an
// independent implementation (@atcute/mst's NodeWrangler), with keys of heights 0 to 3 so that
// commits grow and shrink the tree, and with ops that create a tree from nothing or empty it.
// For each case: inversion over every block gives the previous root, in either op order; over only
// the blocks it needs (found by adding what it reports missing) too; over the blocks a sync 1.1
// PDS sends (new nodes plus what @atcute/mst reads undoing the ops in that order) too; and
// without any one of the needed blocks it fails cleanly, naming that block. Ops that are not
// what happened (another CID or prev, an op left out) never undo to the previous root.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { type CidLink, encode } from '@atcute/cbor'
import { fromString, toCidLink } from '@atcute/cid'
import { MemoryBlockStore, NodeStore, NodeWrangler } from '@atcute/mst'
import fc from 'fast-check'
import { cidStringForDagCbor } from '../protocol/cid.ts'
import { mstKeyHeight } from '../protocol/mst.ts'
import { EMPTY_MST_ROOT, type InversionResult, invertOps, type RepoOp } from './invert.ts'

// Keys of each height: heights 2 and 3 are rare (1 in 16, 1 in 64), so pick them out.
const POOL = (() => {
  const want = [24, 16, 10, 5]
  const picked: string[] = []
  for (let i = 0; want.some((n) => n > 0); i++) {
    const key = `com.example.thing/k${i.toString(36)}`
    const h = mstKeyHeight(key)
    if (h < want.length && want[h]! > 0) {
      want[h]!--
      picked.push(key)
    }
  }
  return picked.sort()
})()

const VALUES: CidLink[] = Array.from({ length: 6 }, (_, i) =>
  toCidLink(fromString(cidStringForDagCbor(encode({ n: i })))),
)
const EMPTY_BLOCK = encode({ l: null, e: [] })

interface Case {
  /** Key index → value index, before the commit. */
  readonly before: ReadonlyMap<number, number>
  /** Key index → value index (or -1: delete), the commit's writes. */
  readonly writes: ReadonlyMap<number, number>
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    before: fc.uniqueArray(fc.tuple(fc.nat(POOL.length - 1), fc.nat(VALUES.length - 1)), {
      selector: ([k]) => k,
      maxLength: POOL.length,
    }),
    writes: fc.uniqueArray(fc.tuple(fc.nat(POOL.length - 1), fc.integer({ min: -1, max: 5 })), {
      selector: ([k]) => k,
      minLength: 1,
      maxLength: 12,
    }),
    wipe: fc.boolean(),
  })
  .map(({ before, writes, wipe }) => {
    const b = new Map(before)
    const w = new Map(writes)
    // Sometimes delete everything (the commit empties the tree unless it also creates).
    if (wipe) for (const k of b.keys()) w.set(k, -1)
    for (const [k, v] of w) {
      // A write that changes nothing is no op: turn it into another value, or drop it.
      if (v === -1 && !b.has(k)) w.delete(k)
      else if (v !== -1 && b.get(k) === v) w.set(k, (v + 1) % VALUES.length)
    }
    return { before: b, writes: w }
  })
  .filter((c) => c.writes.size > 0)

async function build(c: Case, reverse = false) {
  const store = new MemoryBlockStore()
  const wrangler = new NodeWrangler(new NodeStore(store))
  let root: string | null = null
  for (const [k, v] of c.before) root = await wrangler.putRecord(root, POOL[k]!, VALUES[v]!)
  const before = root ?? EMPTY_MST_ROOT
  const existing = new Set(store.blocks.keys())
  const ops: RepoOp[] = []
  for (const [k, v] of c.writes) {
    const path = POOL[k]!
    const prevIdx = c.before.get(k)
    const prev = prevIdx === undefined ? undefined : VALUES[prevIdx]!
    if (v === -1) {
      root = await wrangler.deleteRecord(root, path)
      ops.push({ action: 'delete', path, cid: null, prev: prev! })
    } else {
      root = await wrangler.putRecord(root, path, VALUES[v]!)
      ops.push(
        prev === undefined
          ? { action: 'create', path, cid: VALUES[v]! }
          : { action: 'update', path, cid: VALUES[v]!, prev },
      )
    }
  }
  const after = root!
  const all = new Map<string, Uint8Array>(store.blocks)
  all.set(EMPTY_MST_ROOT, EMPTY_BLOCK)
  const added = new Map<string, Uint8Array>()
  for (const [cid, bytes] of all) if (!existing.has(cid)) added.set(cid, bytes)
  if (reverse) ops.reverse()
  const reads = await readsUndoing(store, after, ops)
  const pdsSlice = new Map(added)
  for (const cid of reads) pdsSlice.set(cid, all.get(cid)!)
  return { before, after, ops, all, pdsSlice }
}

/** The nodes @atcute/mst reads while looking up and undoing `ops` in their order: what a PDS
 * must send (which nodes undoing needs can depend on the order: a root trimmed on the way). */
async function readsUndoing(store: MemoryBlockStore, root: string, ops: readonly RepoOp[]) {
  const reads = new Set<string>([root])
  const overlay = new MemoryBlockStore()
  const recording = Object.assign(Object.create(store) as MemoryBlockStore, {
    get: async (cid: string) => {
      const own = await overlay.get(cid)
      if (own) return own
      reads.add(cid)
      return store.get(cid)
    },
    put: (cid: string, bytes: Uint8Array<ArrayBuffer>) => overlay.put(cid, bytes),
  })
  const ns = new NodeStore(recording)
  const wrangler = new NodeWrangler(ns)
  let current = root
  for (const op of ops) {
    let node = await ns.get(current)
    for (;;) {
      const idx = node.lowerBound(op.path)
      if (node.keys[idx] === op.path) break
      const sub = node.subtrees[idx]
      if (!sub) break
      node = await ns.get(sub.$link)
    }
    current =
      op.action === 'create'
        ? await wrangler.deleteRecord(current, op.path)
        : await wrangler.putRecord(current, op.path, op.prev!)
  }
  return reads
}

const missingCid = (r: InversionResult): string | null => {
  if (r.ok) return null
  return (
    /cid=(b[a-z2-7]+);/.exec(r.problem)?.[1] ??
    /MST root (b[a-z2-7]+) /.exec(r.problem)?.[1] ??
    null
  )
}

/** The blocks inversion needs: start from none and add each block it reports missing. */
function neededBlocks(all: ReadonlyMap<string, Uint8Array>, root: string, ops: readonly RepoOp[]) {
  const needed = new Map<string, Uint8Array>()
  for (;;) {
    const r = invertOps(needed, root, ops)
    if (r.ok) return { needed, result: r }
    const cid = missingCid(r)
    assert.ok(
      cid !== null && all.has(cid) && !needed.has(cid),
      `not a missing block: ${JSON.stringify(r)}`,
    )
    needed.set(cid, all.get(cid)!)
  }
}

describe('invertOps against @atcute/mst (property)', () => {
  test('the key pool has keys of heights 0 to 3', () => {
    assert.deepEqual([...new Set(POOL.map(mstKeyHeight))].sort(), [0, 1, 2, 3])
  })

  test('undoing the ops gives the previous root; only needed blocks matter', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, fc.boolean(), async (c, reverse) => {
        const { before, after, ops: order, all, pdsSlice } = await build(c, reverse)
        assert.deepEqual(invertOps(all, after, order), { ok: true, previousRoot: before })
        assert.deepEqual(invertOps(pdsSlice, after, order), { ok: true, previousRoot: before })
        const { needed } = neededBlocks(all, after, order)
        for (const cid of needed.keys())
          assert.ok(pdsSlice.has(cid), 'a PDS sends every needed block')
        for (const cid of needed.keys()) {
          const without = new Map(needed)
          without.delete(cid)
          const r = invertOps(without, after, order)
          assert.equal(missingCid(r), cid, `without ${cid}: ${JSON.stringify(r)}`)
        }
      }),
      { numRuns: 300 },
    )
  })

  test('ops that are not what happened do not undo to the previous root', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, fc.nat(), async (c, pick) => {
        const { before, after, ops, all } = await build(c)
        const i = pick % ops.length
        const op = ops[i]!
        const other = VALUES.find((v) => v.$link !== op.cid?.$link && v.$link !== op.prev?.$link)!
        // Claim another CID for a write, or another prev for an update or delete.
        const forged: RepoOp =
          op.action === 'delete' ? { ...op, prev: other } : { ...op, cid: other }
        const r = invertOps(all, after, ops.with(i, forged))
        assert.ok(!r.ok || r.previousRoot !== before, JSON.stringify(r))
        // Leaving an op out never gives the previous root either.
        const fewer = invertOps(all, after, ops.toSpliced(i, 1))
        assert.ok(!fewer.ok || fewer.previousRoot !== before, JSON.stringify(fewer))
      }),
      { numRuns: 200 },
    )
  })
})
