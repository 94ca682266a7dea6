// A whole repo export is accepted only complete and signed by the account: the CAR's blocks
// hash to their CIDs, the commit names the account and verifies with its key, the MST is valid,
// and every node and record the tree names is there (repository spec: a repo export carries the
// full tree). Extra blocks are not handed on.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { decode } from '@atcute/cbor'
import { generateKeypair } from '../../test/support/keypair.ts'
import { TestRepo } from '../../test/support/test-repo.ts'
import { encodeCarSlice, readCarSlice } from '../protocol/car.ts'
import { cidStringForDagCbor } from '../protocol/cid.ts'
import { verifySignature } from './crypto/signature.ts'
import { verifyFullRepo } from './full-repo.ts'

const DID = 'did:plc:fullrepotestaaaaaaaaaaaa'

async function repoWith(n: number): Promise<TestRepo> {
  const repo = new TestRepo(DID, generateKeypair('k256'))
  await repo.commit(
    Array.from({ length: n }, (_, i) => ({
      action: 'create' as const,
      path: `app.bsky.feed.post/r${String(i).padStart(4, '0')}`,
    })),
  )
  return repo
}

const check = (repo: TestRepo, car: Uint8Array, key = repo.keypair.publicKey) =>
  verifyFullRepo({ did: DID, car, key, now: Date.now(), checkSignature: verifySignature })

/** The export with one block left out. */
function without(car: Uint8Array, cid: string): Uint8Array {
  const slice = readCarSlice(car)
  return encodeCarSlice(
    slice.roots,
    [...slice.blocks].filter(([c]) => c !== cid),
  )
}

describe('verifyFullRepo', () => {
  it('accepts a complete signed export and hands back exactly its tree', async () => {
    const repo = await repoWith(200)
    const extra = new TextEncoder().encode('not part of the tree')
    const slice = readCarSlice(await repo.exportCar())
    const car = encodeCarSlice(slice.roots, [...slice.blocks, [cidStringForDagCbor(extra), extra]])
    const v = check(repo, car)
    assert.ok(v.ok, JSON.stringify(v))
    assert.equal(v.records, 200)
    assert.equal(v.commitCid, repo.commitCid)
    assert.equal(v.commit.data.$link, repo.root)
    const expected = await repo.exportBlocks()
    assert.deepEqual([...v.tree.keys()].sort(), [...expected.keys()].sort())
  })

  it('refuses an export missing a record or an MST node', async () => {
    const repo = await repoWith(200)
    const car = await repo.exportCar()
    const blocks = await repo.exportBlocks()
    const slice = readCarSlice(car)
    const record = [...blocks.keys()].find((c) => c !== repo.root && !isNode(slice.blocks.get(c)!))!
    const node = [...blocks.keys()].find((c) => c !== repo.root && isNode(slice.blocks.get(c)!))!
    for (const cid of [record, node]) {
      const v = check(repo, without(car, cid))
      assert.equal(v.ok, false)
      if (!v.ok) {
        assert.equal(v.reason, 'bad-car')
        assert.match(v.detail, /is not in the repo/)
      }
    }
  })

  it('refuses an export signed by another key, or of another account', async () => {
    const repo = await repoWith(5)
    const car = await repo.exportCar()
    const other = generateKeypair('k256')
    const wrongKey = check(repo, car, other.publicKey)
    assert.equal(wrongKey.ok ? 'ok' : wrongKey.reason, 'bad-signature')
    const wrongDid = verifyFullRepo({
      did: 'did:plc:someoneelseaaaaaaaaaaaaa',
      car,
      key: repo.keypair.publicKey,
      now: Date.now(),
      checkSignature: verifySignature,
    })
    assert.equal(wrongDid.ok ? 'ok' : wrongDid.reason, 'commit-mismatch')
  })

  it('refuses a CAR whose block does not match its CID', async () => {
    const repo = await repoWith(5)
    const car = await repo.exportCar()
    const tampered = new Uint8Array(car)
    const at = tampered.length - 3
    tampered[at] = tampered[at]! ^ 0xff
    const v = check(repo, tampered)
    assert.equal(v.ok ? 'ok' : v.reason, 'bad-car')
  })
})

/** MST node blocks are maps with `l` and `e`; the test records are posts. */
function isNode(bytes: Uint8Array): boolean {
  const v = decode(bytes) as Record<string, unknown>
  return 'e' in v && 'l' in v
}
