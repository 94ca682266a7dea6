// verifyCommit / verifySync on commits made here with our own keys (k256 and p256), and the
// tampering cases: each kind of damage must give its own drop reason (docs/design.md §4 item 12).
import assert from 'node:assert/strict'
import { before, describe, test } from 'node:test'
import { BytesWrapper, decode, encode } from '@atcute/cbor'
import { fromString, toCidLink } from '@atcute/cid'
import { generateKeypair, type TestKeypair } from '../../test/support/keypair.ts'
import { TestRepo } from '../../test/support/test-repo.ts'
import { encodeCarSlice, readCarSlice } from '../protocol/car.ts'
import { cidStringForDagCbor } from '../protocol/cid.ts'
import type { CommitMessage } from '../protocol/messages.ts'
import { createTid } from '../protocol/syntax/index.ts'
import { type VerifyContext, verifyCommit, verifySync } from './commit.ts'
import type { Curve } from './crypto/keys.ts'
import { verifySignature } from './crypto/signature.ts'

const DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'

function ctx(repo: TestRepo, over: Partial<VerifyContext> = {}): VerifyContext {
  return {
    key: repo.keypair.publicKey,
    previous: null,
    now: Date.now(),
    mode: 'strict',
    checkSignature: verifySignature,
    ...over,
  }
}

const post = (i: number) => ({
  action: 'create' as const,
  path: `app.bsky.feed.post/3l${String(i).padStart(11, 'a')}`,
})

async function seededRepo(curve: Curve, records = 60): Promise<TestRepo> {
  const repo = new TestRepo(DID, generateKeypair(curve))
  for (let i = 0; i < records; i += 10) {
    await repo.commit(Array.from({ length: 10 }, (_, j) => post(i + j)))
  }
  return repo
}

for (const curve of ['k256', 'p256'] as const) {
  describe(`valid commits (${curve})`, () => {
    test('genesis commit (since null, no prevData) inverts to the empty tree in strict mode', async () => {
      const repo = new TestRepo(DID, generateKeypair(curve))
      const msg = await repo.commit([post(1), post(2)])
      assert.equal(msg.since, null)
      assert.equal(msg.prevData, undefined)
      const v = await verifyCommit(msg, ctx(repo))
      assert.ok(v.ok, JSON.stringify(v))
      assert.equal(v.inverted, true)
      assert.equal(v.rev, msg.rev)
      assert.equal(v.commitCid, msg.commit.$link)
      assert.equal(v.dataCid, repo.root)
    })

    test('a chain of creates, updates and deletes verifies in strict mode, each against the last', async () => {
      const repo = await seededRepo(curve)
      let previous = { rev: repo.rev!, data: repo.root }
      const batches = [
        [post(100)],
        [{ action: 'update' as const, path: post(3).path, record: { text: 'edited' } }],
        [{ action: 'delete' as const, path: post(4).path }],
        [
          post(101),
          { action: 'delete' as const, path: post(100).path },
          { action: 'update' as const, path: post(5).path, record: { x: 1 } },
        ],
      ]
      for (const writes of batches) {
        const msg = await repo.commit(writes)
        const v = await verifyCommit(msg, ctx(repo, { previous }))
        assert.ok(v.ok, JSON.stringify(v))
        assert.deepEqual(v.warnings, [])
        assert.equal(v.dataCid, repo.root)
        previous = { rev: v.rev, data: v.dataCid }
      }
    })

    test('#sync verifies and carries the new head', async () => {
      const repo = await seededRepo(curve, 20)
      const previous = { rev: repo.rev!, data: repo.root }
      const msg = repo.sync()
      const v = verifySync(msg, ctx(repo, { previous }))
      assert.ok(v.ok, JSON.stringify(v))
      assert.equal(v.rev, msg.rev)
      assert.equal(v.dataCid, repo.root)
    })
  })
}

describe('modes and ordering', () => {
  let repo: TestRepo
  before(async () => {
    repo = await seededRepo('k256', 30)
  })

  test('missing prevData: dropped in strict, warned in lenient', async () => {
    const msg = await repo.commit([post(200)], { omitPrevData: true })
    assert.deepEqual(await reason(msg, ctx(repo)), 'missing-prev-data')
    const v = await verifyCommit(msg, ctx(repo, { mode: 'lenient' }))
    assert.ok(v.ok)
    assert.deepEqual(v.warnings, ['missing-prev-data'])
  })

  test('chain break (since and prevData not the stored state) passes with a warning', async () => {
    const msg = await repo.commit([post(201)])
    const v = await verifyCommit(msg, ctx(repo, { previous: { rev: createTid(1, 0), data: null } }))
    assert.ok(v.ok)
    assert.deepEqual(v.warnings, ['chain-break'])
  })

  test('rev not after the stored rev: stale-rev, for commits and syncs', async () => {
    const msg = await repo.commit([post(202)])
    assert.equal(
      await reason(msg, ctx(repo, { previous: { rev: msg.rev, data: null } })),
      'stale-rev',
    )
    const sync = repo.sync()
    const v = verifySync(sync, ctx(repo, { previous: { rev: sync.rev, data: null } }))
    assert.equal(v.ok ? 'ok' : v.reason, 'stale-rev')
  })

  test('a rev more than 5 minutes ahead: future-rev (4 minutes is fine)', async () => {
    const now = Date.now()
    const ahead = await repo.commit([post(203)], { revTimeMs: now + 6 * 60_000 })
    assert.equal(await reason(ahead, ctx(repo, { now })), 'future-rev')
    const fresh = new TestRepo(DID, repo.keypair)
    const near = await fresh.commit([post(1)], { revTimeMs: now + 4 * 60_000 })
    assert.equal(await reason(near, ctx(fresh, { now })), 'ok')
  })

  test('limits: too many ops, blocks too large', async () => {
    const msg = await repo.commit([post(204)])
    const many = { ...msg, ops: Array.from({ length: 201 }, () => msg.ops[0]!) }
    assert.equal(await reason(many, ctx(repo)), 'too-many-ops')
    const big = { ...msg, blocks: new Uint8Array(2_000_001) }
    assert.equal(await reason(big, ctx(repo)), 'blocks-too-large')
    const sync = { ...repo.sync(), blocks: new Uint8Array(10_001) }
    const v = verifySync(sync, ctx(repo))
    assert.equal(v.ok ? 'ok' : v.reason, 'blocks-too-large')
  })

  test('a record block over 1 MB: record-too-large', async () => {
    const fresh = new TestRepo(DID, repo.keypair)
    const msg = await fresh.commit([
      {
        action: 'create',
        path: post(1).path,
        record: { blob: new BytesWrapper(new Uint8Array(1_000_001)) },
      },
    ])
    assert.equal(await reason(msg, ctx(fresh)), 'record-too-large')
  })
})

describe('tampering gives the specific reason', () => {
  let repo: TestRepo
  let msg: CommitMessage
  let previous: { rev: string; data: string | null }
  before(async () => {
    repo = await seededRepo('k256', 40)
    previous = { rev: repo.rev!, data: repo.root }
    msg = await repo.commit([post(300), { action: 'delete', path: post(7).path }])
    assert.equal(await reason(msg, ctx(repo, { previous })), 'ok')
  })

  /** Rebuilds the CAR with `edit` applied to one block (optionally re-keyed by its new CID). */
  function withBlock(
    pick: (cid: string, bytes: Uint8Array) => boolean,
    edit: (b: Uint8Array) => Uint8Array,
    rekey: boolean,
  ) {
    const car = readCarSlice(msg.blocks)
    let root = car.roots[0]!
    const blocks: [string, Uint8Array][] = []
    let done = false
    for (const [cid, bytes] of car.blocks) {
      if (!done && pick(cid, bytes)) {
        done = true
        const edited = edit(bytes)
        const newCid = rekey ? cidStringForDagCbor(edited) : cid
        if (cid === root) root = newCid
        blocks.push([newCid, edited])
      } else blocks.push([cid, bytes])
    }
    assert.ok(done, 'a block was picked')
    return { ...msg, commit: toCidLink(fromString(root)), blocks: encodeCarSlice([root], blocks) }
  }
  const flipBit = (b: Uint8Array) => {
    const c = Uint8Array.from(b)
    c[c.length - 5]! ^= 0x01
    return c
  }
  const isCommit = (cid: string) => cid === msg.commit.$link
  const isRecord = (cid: string) => msg.ops.some((o) => o.cid?.$link === cid)
  const isMstNode = (cid: string, b: Uint8Array) =>
    !isCommit(cid) && !isRecord(cid) && 'e' in (decode(b) as object)

  test('a flipped bit in the signature: bad-signature', async () => {
    const tampered = withBlock(
      isCommit,
      (b) => {
        const c = decode(b) as { sig: BytesWrapper }
        const sig = Uint8Array.from(c.sig.buf)
        sig[10]! ^= 0x01
        return encode({ ...c, sig: new BytesWrapper(sig) })
      },
      true,
    )
    assert.equal(await reason(tampered, ctx(repo, { previous })), 'bad-signature')
  })

  test('a flipped bit in a record block: bad-car (hash mismatch)', async () => {
    assert.equal(
      await reason(withBlock(isRecord, flipBit, false), ctx(repo, { previous })),
      'bad-car',
    )
  })

  test('a flipped bit in an MST node: bad-car (hash mismatch)', async () => {
    assert.equal(
      await reason(withBlock(isMstNode, flipBit, false), ctx(repo, { previous })),
      'bad-car',
    )
  })

  test('a swapped key (the identity given another valid key): bad-signature', async () => {
    const other: TestKeypair = generateKeypair('k256')
    assert.equal(await reason(msg, ctx(repo, { previous, key: other.publicKey })), 'bad-signature')
    assert.equal(
      await reason(msg, ctx(repo, { previous, key: generateKeypair('p256').publicKey })),
      'bad-signature',
    )
  })

  test('a rev moved to the future in the event only: commit-mismatch', async () => {
    const future = createTid((Date.now() + 3_600_000) * 1000, 0)
    assert.equal(await reason({ ...msg, rev: future }, ctx(repo, { previous })), 'commit-mismatch')
  })

  test('another repo DID or another commit CID in the event: commit-mismatch', async () => {
    assert.equal(
      await reason({ ...msg, repo: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' }, ctx(repo, { previous })),
      'commit-mismatch',
    )
    assert.equal(
      await reason({ ...msg, commit: msg.ops[0]!.cid! }, ctx(repo, { previous })),
      'commit-mismatch',
    )
  })

  test('ops that do not match the blocks: inversion-failed', async () => {
    const wrongCid = {
      ...msg,
      ops: msg.ops.map((o) =>
        // a CID whose block is in the CAR (the commit's), but not the record the tree holds
        o.action === 'create' ? { ...o, cid: msg.commit } : o,
      ),
    }
    assert.equal(await reason(wrongCid, ctx(repo, { previous })), 'inversion-failed')
    const missingOp = { ...msg, ops: msg.ops.slice(0, 1) }
    assert.equal(await reason(missingOp, ctx(repo, { previous })), 'inversion-failed')
    const extraOp = {
      ...msg,
      ops: [...msg.ops, { action: 'delete' as const, path: post(999).path, cid: null }],
    }
    assert.equal(await reason(extraOp, ctx(repo, { previous })), 'inversion-failed')
    const wrongPrevData = { ...msg, prevData: msg.commit }
    assert.equal(await reason(wrongPrevData, ctx(repo, { previous })), 'inversion-failed')
    // The same commits pass in lenient mode, with a counted warning.
    const v = await verifyCommit(missingOp, ctx(repo, { previous, mode: 'lenient' }))
    assert.ok(v.ok)
    assert.deepEqual(v.warnings, ['inversion-failed'])
  })

  test('garbage in place of the CAR: bad-car; a commit block that is not a commit: bad-commit', async () => {
    assert.equal(
      await reason({ ...msg, blocks: Uint8Array.of(1, 2, 3) }, ctx(repo, { previous })),
      'bad-car',
    )
    const notCommit = withBlock(isCommit, () => encode({ hello: 'world' }), true)
    assert.equal(await reason(notCommit, ctx(repo, { previous })), 'bad-commit')
    const noCommitBlock = {
      ...msg,
      commit: msg.ops[0]!.cid!,
      blocks: encodeCarSlice([msg.ops[0]!.cid!.$link], []),
    }
    assert.equal(await reason(noCommitBlock, ctx(repo, { previous })), 'bad-car')
  })
})

async function reason(msg: CommitMessage, c: VerifyContext): Promise<string> {
  const v = await verifyCommit(msg, c)
  return v.ok ? 'ok' : v.reason
}
