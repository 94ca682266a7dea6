// The mirror writes the same change whether it diffs a commit's tree against the stored one
// (`mirrorChange`) or takes the change the commit's verification worked out (`changeFrom`, from
// verify/tree-change.ts): the same nodes gained and lost, and the same record references, over
// hundreds of real signed commits of one to four creates, updates and deletes on repos deep
// enough for splits and merges. Also: the verified change is refused when the stored tree is not
// the one the commit starts from, or when a block it adds is not in hand.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { keypairFromSeed } from '../../test/support/keypair.ts'
import { seededRandom } from '../../test/support/seeded-random.ts'
import { TestRepo, type Write } from '../../test/support/test-repo.ts'
import { createTid } from '../protocol/syntax/tid.ts'
import { invertOps } from '../verify/invert.ts'
import type { TreeChange } from '../verify/tree-change.ts'
import { changeFrom, mirrorChange } from './mirror-change.ts'
import type { RepoChange } from './repo-change.ts'
import { commitParts } from './testing.ts'

const sorted = (xs: Iterable<string>) => [...xs].sort()

function summary(c: RepoChange) {
  return {
    addNodes: sorted(c.addNodes.keys()),
    removeNodes: sorted(c.removeNodes),
    addRecords: sorted(c.addRecords.map(([cid]) => cid)),
    removeRecords: sorted(c.removeRecords),
  }
}

/** One random commit of 1–4 writes on distinct paths (creates, updates, deletes). */
/** `shared`: whether a path holds the shared value (updating it to it again changes nothing). */
function writes(
  random: () => number,
  paths: string[],
  counter: { n: number; shared: Map<string, boolean> },
): Write[] {
  const out: Write[] = []
  const used = new Set<string>()
  const n = 1 + Math.floor(random() * 4)
  for (let i = 0; i < n; i++) {
    const r = random()
    if (r < 0.5 || paths.length < 20) {
      const path = `app.bsky.feed.post/${createTid(1_700_000_000_000_000 + counter.n++ * 7919, 3)}`
      paths.push(path)
      used.add(path)
      out.push({ action: 'create', path, record: { text: `post ${counter.n}` } })
      continue
    }
    const at = Math.floor(random() * paths.length)
    const path = paths[at]!
    if (used.has(path)) continue
    used.add(path)
    if (r < 0.75) {
      // Some updates write a value another path already holds: one record, two references.
      const text =
        random() < 0.2 && counter.shared.get(path) !== true ? 'shared' : `edit ${counter.n++}`
      counter.shared.set(path, text === 'shared')
      out.push({ action: 'update', path, record: { text } })
    } else {
      paths.splice(at, 1)
      out.push({ action: 'delete', path })
    }
  }
  return out
}

describe('mirror change: diffed or taken from verification', () => {
  test('the same change for hundreds of random commits', async () => {
    const random = seededRandom(42)
    const repo = new TestRepo(
      'did:plc:mirrorchangeaaaaaaaaaaaa',
      keypairFromSeed('k256', new Uint8Array(32).fill(3)),
    )
    const paths: string[] = []
    const counter = { n: 0, shared: new Map<string, boolean>() }
    const initial: Write[] = []
    for (let i = 0; i < 250; i++)
      initial.push(...writes(random, paths, counter).filter((w) => w.action === 'create'))
    await repo.commit(initial)
    let taken = 0
    for (let i = 0; i < 300; i++) {
      const previousRoot = repo.root!
      const msg = await repo.commit(writes(random, paths, counter))
      const { head, blocks } = commitParts(msg)
      const inversion = invertOps(blocks, head.dataCid, msg.ops, true)
      assert.ok(inversion.ok && inversion.previousRoot === previousRoot, `commit ${i} inverts`)
      const proven = inversion.change as TreeChange
      assert.ok(proven, `commit ${i}: a change is worked out`)
      // Every block the repo ever held is "stored": the diff reads what it needs of it.
      const stored = async (cids: string[]) => {
        const out = new Map<string, Uint8Array>()
        for (const cid of cids) {
          const b = repo.store.blocks.get(cid)
          if (b) out.set(cid, b)
        }
        return out
      }
      const diffed = await mirrorChange({ previousRoot, head, blocks, stored })
      assert.ok(diffed.ok, `commit ${i} diffs`)
      const known = changeFrom(head, blocks, previousRoot, proven)
      assert.ok(known, `commit ${i}: the verified change applies`)
      assert.deepEqual(
        summary(known),
        summary(diffed.change),
        `commit ${i}: ${JSON.stringify(msg.ops)}`,
      )
      for (const [cid, bytes] of known.addNodes) assert.equal(bytes, blocks.get(cid))
      taken++
    }
    assert.equal(taken, 300)
  })

  test('refused when the stored tree is another, or a block it adds is not in hand', async () => {
    const repo = new TestRepo(
      'did:plc:mirrorchangebbbbbbbbbbbb',
      keypairFromSeed('k256', new Uint8Array(32).fill(4)),
    )
    await repo.commit(
      Array.from({ length: 40 }, (_, i) => ({
        action: 'create' as const,
        path: `app.bsky.feed.like/${createTid(1_700_000_000_000_000 + i * 1000, 0)}`,
        record: { n: i },
      })),
    )
    const previousRoot = repo.root!
    const msg = await repo.commit([
      {
        action: 'create',
        path: `app.bsky.feed.like/${createTid(1_700_000_000_500_000, 0)}`,
        record: { n: 'new' },
      },
    ])
    const { head, blocks } = commitParts(msg)
    const inversion = invertOps(blocks, head.dataCid, msg.ops, true)
    assert.ok(inversion.ok && inversion.change)
    const proven = inversion.change
    assert.ok(changeFrom(head, blocks, previousRoot, proven))
    assert.equal(
      changeFrom(head, blocks, head.dataCid, proven),
      null,
      'stored tree is not prevData',
    )
    const lacking = new Map(blocks)
    lacking.delete(proven.nodesGained[0]!)
    assert.equal(changeFrom(head, lacking, previousRoot, proven), null, 'a gained node is missing')
    const noRecord = new Map(blocks)
    noRecord.delete(proven.recordsGained[0]!)
    assert.equal(changeFrom(head, noRecord, previousRoot, proven), null, 'the record is missing')
    // Without asking, inversion works out no change (the default relay pays nothing for it).
    const plain = invertOps(blocks, head.dataCid, msg.ops)
    assert.ok(plain.ok && plain.change === undefined)
  })
})
