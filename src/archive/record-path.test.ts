// Record proofs from the mirror, checked by the reference implementation's verifier
// (`@atproto/repo` verifyProofs): for a repo of a few hundred records, every proof of presence
// and of absence (before the first key, after the last, between any two, in every collection)
// must carry each MST node that verifier opens. Rule (sync spec, getRecord): the answer is a CAR
// with the signed commit and the MST nodes proving the record's presence or absence.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { def, MemoryBlockstore, MST, readCarWithRoot, verifyProofs } from '@atproto/repo'
import { generateKeypair } from '../../test/support/keypair.ts'
import { TestRepo, type Write } from '../../test/support/test-repo.ts'
import { commitParts, tempArchive } from './testing.ts'

const DID = 'did:plc:recordpathaaaaaaaaaaaaaa'

describe('record proofs, checked by the reference verifier', () => {
  it('prove presence and absence wherever the key falls in the tree', async () => {
    await using a = await tempArchive('sqlite')
    const key = generateKeypair('k256')
    const repo = new TestRepo(DID, key)
    const writes: Write[] = []
    for (let i = 0; i < 300; i++) {
      const collection = i % 3 === 0 ? 'app.bsky.feed.like' : 'app.bsky.feed.post'
      const rkey = `3k${String(i * 7).padStart(5, '0')}aa2a`
      writes.push({
        action: 'create',
        path: `${collection}/${rkey}`,
        record: { $type: collection, text: `${i}`, createdAt: '2026-01-01T00:00:00.000Z' },
      })
    }
    const c = commitParts(await repo.commit(writes))
    await a.mirror.applyCommit(DID, c.head, c.blocks)
    const present = writes.map((w) => w.path)
    const absent = [
      'app.bsky.actor.profile/self',
      'app.bsky.feed.like/3j99999aa2a',
      'app.bsky.feed.post/3k00001aa2a',
      'app.bsky.feed.post/3zzzzzzzzzzzz',
      'zzz.last.collection/3k00000aa2a',
      ...present.filter((_, i) => i % 10 === 0).map((p) => `${p.slice(0, -1)}b`),
    ]
    for (const [path, exists] of [
      ...present.map((p) => [p, true] as const),
      ...absent.map((p) => [p, false] as const),
    ]) {
      const proof = (await a.mirror.recordProof(DID, path))!
      assert.equal(proof.exists, exists, path)
      const [collection, rkey] = path.split('/') as [string, string]
      // The verifier names the record by CID; an absent one by null.
      const cid = exists ? await verifyPresentCid(proof.car, collection, rkey) : null
      const out = await verifyProofs(proof.car, [{ collection, rkey, cid }], DID, key.didKey)
      assert.deepEqual([out.verified.length, out.unverified.length], [1, 0], path)
    }
  })
})

/** The record's CID as the reference implementation reads it from the proof's own tree. */
async function verifyPresentCid(car: Uint8Array, collection: string, rkey: string) {
  const { root, blocks } = await readCarWithRoot(car)
  const storage = new MemoryBlockstore(blocks)
  const commit = await storage.readObj(root, def.commit)
  const cid = await MST.load(storage, commit.data).get(`${collection}/${rkey}`)
  assert.ok(cid, `${collection}/${rkey} is in the proof's tree`)
  return cid
}
