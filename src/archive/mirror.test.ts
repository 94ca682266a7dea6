// The mirror on a real archive database (SQLite always; PostgreSQL too when
// RELAY_TEST_POSTGRES_URL is set), fed real signed commits of a test repo. After every commit
// the stored blocks are exactly the blocks of the repo's current tree (what a full export holds):
// nothing missing, nothing superseded left behind, so a write-heavy account does not grow
// between compactions. A record block two paths share stays until neither holds it. A commit
// the stored tree cannot follow is refused, changing nothing. A whole repo imported over a stale
// one leaves exactly the new tree. Exports, record proofs (also of absence), blocks by CID,
// deletion and compaction read and write what they say.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MemoryBlockStore, NodeStore, verifyExclusion, verifyInclusion } from '@atcute/mst'
import { generateKeypair } from '../../test/support/keypair.ts'
import { PG_URL } from '../../test/support/pg-temp.ts'
import { TestRepo, type Write } from '../../test/support/test-repo.ts'
import { readCarSlice } from '../protocol/car.ts'
import { invertOps } from '../verify/invert.ts'
import { Mirror } from './mirror.ts'
import { cidFromBytes, RepoStore } from './repo-store.ts'
import { commitParts, type TempArchive, tempArchive } from './testing.ts'

const DID = 'did:plc:mirrortestaaaaaaaaaaaaaa'

const post = (text: string) => ({
  $type: 'app.bsky.feed.post',
  text,
  createdAt: '2026-01-01T00:00:00.000Z',
})
const create = (rkey: string, text = rkey): Write => ({
  action: 'create',
  path: `app.bsky.feed.post/${rkey}`,
  record: post(text),
})

/** Every block the archive holds for DID, by CID string. */
async function storedBlocks(a: TempArchive): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>()
  let after: Uint8Array | null = null
  for (;;) {
    const page = await a.store.blockPage(DID, after, 1000)
    for (const b of page) out.set(cidFromBytes(b.cid), b.data)
    if (page.length < 1000) return out
    after = page.at(-1)!.cid
  }
}

async function assertMirrors(a: TempArchive, repo: TestRepo): Promise<void> {
  const expected = await repo.exportBlocks()
  const stored = await storedBlocks(a)
  assert.deepEqual([...stored.keys()].sort(), [...expected.keys()].sort())
  const head = await a.mirror.head(DID)
  assert.deepEqual(
    [head?.rev, head?.commitCid, head?.dataCid],
    [repo.rev, repo.commitCid, repo.root],
  )
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`the mirror on ${kind}`, {
    skip: kind === 'postgres' && !PG_URL && 'RELAY_TEST_POSTGRES_URL not set',
  }, () => {
    it('follows commits: after each one it holds exactly the current tree', async () => {
      await using a = await tempArchive(kind)
      const repo = new TestRepo(DID, generateKeypair('k256'))
      const apply = async (writes: Write[]) => {
        const { head, blocks } = commitParts(await repo.commit(writes))
        assert.deepEqual(await a.mirror.applyCommit(DID, head, blocks), { ok: true, applied: true })
        await assertMirrors(a, repo)
      }
      await apply(Array.from({ length: 40 }, (_, i) => create(`a${String(i).padStart(3, '0')}`)))
      for (let round = 0; round < 15; round++) {
        await apply([
          create(`b${round}`),
          {
            action: 'update',
            path: `app.bsky.feed.post/a${String(round).padStart(3, '0')}`,
            record: post(`edited ${round}`),
          },
          { action: 'delete', path: `app.bsky.feed.post/a${String(round + 20).padStart(3, '0')}` },
        ])
      }
      const totals = await a.store.totals()
      assert.equal(totals.repos, 1)
      assert.equal(totals.blocks, (await repo.exportBlocks()).size, 'nothing superseded is kept')
    })

    it('reads a repo head from the store once, then remembers the heads it writes', async () => {
      await using a = await tempArchive(kind)
      let reads = 0
      class CountingStore extends RepoStore {
        override head(did: string) {
          reads++
          return super.head(did)
        }
      }
      const mirror = new Mirror(new CountingStore(a.adb))
      const repo = new TestRepo(DID, generateKeypair('k256'))
      const apply = async (writes: Write[]) => {
        const { head, blocks } = commitParts(await repo.commit(writes))
        assert.deepEqual(await mirror.applyCommit(DID, head, blocks), { ok: true, applied: true })
        await assertMirrors(a, repo)
      }
      await apply([create('h0'), create('h1')])
      await apply([create('h2')])
      for (let i = 3; i < 10; i++) await apply([create(`h${i}`)])
      assert.equal(reads, 2, 'the new repo, then its first stored head; none after')
      // A replay of the current commit is recognised from the remembered head.
      const again = commitParts(await repo.commit([create('h10')]))
      await mirror.applyCommit(DID, again.head, again.blocks)
      assert.deepEqual(await mirror.applyCommit(DID, again.head, again.blocks), {
        ok: true,
        applied: false,
      })
      // Deleted, the repo is read again (and not found) on its next write.
      await mirror.delete(DID)
      const fresh = new TestRepo(DID, generateKeypair('k256'))
      const first = commitParts(await fresh.commit([create('n0')]))
      assert.deepEqual(await mirror.applyCommit(DID, first.head, first.blocks), {
        ok: true,
        applied: true,
      })
      assert.equal(reads, 3)
      await assertMirrors(a, fresh)
    })

    it('a remembered head the database lost is caught, never written over', async () => {
      await using a = await tempArchive(kind)
      // A store that acknowledges one write without keeping it, as a database crash with
      // asynchronous commit can.
      let loseNext = false
      class LosingStore extends RepoStore {
        override apply(...args: Parameters<RepoStore['apply']>) {
          if (!loseNext) return super.apply(...args)
          loseNext = false
          return Promise.resolve(true)
        }
      }
      const mirror = new Mirror(new LosingStore(a.adb))
      const repo = new TestRepo(DID, generateKeypair('k256'))
      // Each commit with the change its verification works out, as ingest hands it over: the
      // path that writes without reading the stored tree.
      const apply = async (writes: Write[]) => {
        const msg = await repo.commit(writes)
        const { head, blocks } = commitParts(msg)
        const inversion = invertOps(blocks, head.dataCid, msg.ops, true)
        const change = inversion.ok ? inversion.change : undefined
        return mirror.applyCommit(DID, head, blocks, change)
      }
      assert.equal((await apply(Array.from({ length: 30 }, (_, i) => create(`l${i}`)))).ok, true)
      assert.equal((await apply([create('kept')])).ok, true)
      const before = await storedBlocks(a)
      const kept = await a.store.head(DID)
      loseNext = true
      assert.deepEqual((await apply([create('lost')])).ok, true, 'acknowledged, then lost')
      // The next commit is not written over the lost head: the stored one is read, and the
      // commit, which needs the lost commit's blocks, is refused as missing (a repair follows).
      const next = await apply([create('after')])
      assert.equal(next.ok, false)
      assert.deepEqual(await a.store.head(DID), kept)
      assert.deepEqual(await storedBlocks(a), before)
    })

    it('keeps a record block two paths share until neither holds it', async () => {
      await using a = await tempArchive(kind)
      const repo = new TestRepo(DID, generateKeypair('k256'))
      const same = post('identical')
      const apply = async (writes: Write[]) => {
        const { head, blocks } = commitParts(await repo.commit(writes))
        assert.equal((await a.mirror.applyCommit(DID, head, blocks)).ok, true)
        await assertMirrors(a, repo)
      }
      await apply([
        { action: 'create', path: 'app.bsky.feed.post/x1', record: same },
        { action: 'create', path: 'app.bsky.feed.post/x2', record: same },
        create('x3'),
      ])
      await apply([{ action: 'delete', path: 'app.bsky.feed.post/x1' }])
      await apply([{ action: 'delete', path: 'app.bsky.feed.post/x2' }])
    })

    it('refuses a commit it cannot follow (a missed commit), changing nothing', async () => {
      await using a = await tempArchive(kind)
      const repo = new TestRepo(DID, generateKeypair('k256'))
      const first = commitParts(
        await repo.commit(Array.from({ length: 30 }, (_, i) => create(`c${i}`))),
      )
      await a.mirror.applyCommit(DID, first.head, first.blocks)
      const before = await storedBlocks(a)
      await repo.commit([create('missed'), { action: 'delete', path: 'app.bsky.feed.post/c3' }])
      const next = commitParts(await repo.commit([create('after')]))
      const out = await a.mirror.applyCommit(DID, next.head, next.blocks)
      // The new tree names a node the missed commit made, which the mirror never saw.
      assert.equal(out.ok, false)
      assert.deepEqual(await storedBlocks(a), before)
      assert.equal((await a.mirror.head(DID))?.rev, first.head.rev)
      // A replayed commit at or below the stored rev changes nothing.
      assert.deepEqual(await a.mirror.applyCommit(DID, first.head, first.blocks), {
        ok: true,
        applied: false,
      })
    })

    it('imports a whole repo over a stale one, leaving exactly the new tree', async () => {
      await using a = await tempArchive(kind)
      const repo = new TestRepo(DID, generateKeypair('k256'))
      const first = commitParts(
        await repo.commit(Array.from({ length: 30 }, (_, i) => create(`d${i}`))),
      )
      await a.mirror.applyCommit(DID, first.head, first.blocks)
      for (let i = 0; i < 5; i++) {
        await repo.commit([create(`e${i}`), { action: 'delete', path: `app.bsky.feed.post/d${i}` }])
      }
      const car = readCarSlice(await repo.exportCar())
      const whole = commitParts({
        type: '#sync',
        seq: 1,
        did: DID,
        rev: repo.rev!,
        blocks: await repo.exportCar(),
        time: '',
      })
      assert.deepEqual(await a.mirror.importRepo(DID, whole.head, new Map(car.blocks)), {
        changed: true,
      })
      await assertMirrors(a, repo)
      assert.deepEqual(await a.mirror.importRepo(DID, whole.head, new Map(car.blocks)), {
        changed: false,
      })
    })

    it('serves exports, record proofs (of presence and absence) and blocks; deletes; compacts', async () => {
      await using a = await tempArchive(kind)
      const repo = new TestRepo(DID, generateKeypair('k256'))
      const c1 = commitParts(
        await repo.commit(Array.from({ length: 25 }, (_, i) => create(`f${i}`))),
      )
      await a.mirror.applyCommit(DID, c1.head, c1.blocks)
      const sinceRev = repo.rev!
      const c2 = commitParts(await repo.commit([create('g1')]))
      await a.mirror.applyCommit(DID, c2.head, c2.blocks)

      const chunks: Uint8Array[] = []
      for await (const c of (await a.mirror.exportCar(DID))!) chunks.push(c)
      const exported = readCarSlice(Buffer.concat(chunks))
      assert.deepEqual(exported.roots, [repo.commitCid])
      const expected = await repo.exportBlocks()
      assert.deepEqual(
        [...exported.blocks.keys()].sort(),
        [...expected.keys(), repo.commitCid!].sort(),
      )

      const sinceChunks: Uint8Array[] = []
      for await (const c of (await a.mirror.exportCar(DID, sinceRev))!) sinceChunks.push(c)
      const since = readCarSlice(Buffer.concat(sinceChunks))
      assert.ok(since.blocks.size < exported.blocks.size / 2, 'only what the later commit added')
      for (const cid of since.blocks.keys()) assert.ok(c2.blocks.has(cid) || cid === repo.commitCid)

      for (const [path, exists] of [
        ['app.bsky.feed.post/f7', true],
        ['app.bsky.feed.post/nope', false],
      ] as const) {
        const proof = (await a.mirror.recordProof(DID, path))!
        assert.equal(proof.exists, exists)
        const car = readCarSlice(proof.car)
        const ns = new NodeStore(new MemoryBlockStore(new Map(car.blocks) as never))
        if (exists) await verifyInclusion(ns, repo.root!, path)
        else await verifyExclusion(ns, repo.root!, path)
      }

      const some = [...expected.keys()].slice(0, 3)
      const got = (await a.mirror.blocks(DID, [
        ...some,
        repo.commitCid!,
        'bafyreia5xlpqvbvnpgepqs4xf5ffhhhzm3kpk6hmcf5jvhikn5lrjqnzaq',
      ]))!
      assert.deepEqual([...got.keys()].sort(), [...some, repo.commitCid!].sort())
      assert.equal(await a.mirror.blocks('did:plc:unknownaaaaaaaaaaaaaaaaa', some), undefined)

      assert.deepEqual(await a.mirror.compact(DID), { removed: 0, kept: expected.size })
      assert.equal(await a.mirror.delete(DID), true)
      assert.equal(await a.mirror.head(DID), undefined)
      assert.equal((await a.store.totals()).blocks, 0)
      assert.equal(await a.mirror.delete(DID), false)
    })

    // An export is read in pages while commits keep landing: it must be one state of the repo.
    it('an export is one state of the repo, whatever commits land while it is read', async () => {
      await using a = await tempArchive(kind)
      const repo = new TestRepo(DID, generateKeypair('k256'))
      const c1 = commitParts(
        await repo.commit(Array.from({ length: 1200 }, (_, i) => create(`r${i}`))),
      )
      await a.mirror.applyCommit(DID, c1.head, c1.blocks)
      const before = await repo.exportBlocks()
      const commitBefore = repo.commitCid!
      const out = (await a.mirror.exportRepo(DID))!
      assert.equal(out.head.commitCid, commitBefore)
      const chunks: Uint8Array[] = []
      const first = await out.chunks.next()
      chunks.push(first.value as Uint8Array)
      // Half the records go while the export is under way.
      const c2 = commitParts(
        await repo.commit(
          Array.from({ length: 600 }, (_, i) => ({
            action: 'delete' as const,
            path: `app.bsky.feed.post/r${i}`,
          })),
        ),
      )
      assert.equal((await a.mirror.applyCommit(DID, c2.head, c2.blocks)).ok, true)
      for await (const c of out.chunks) chunks.push(c)
      const exported = readCarSlice(Buffer.concat(chunks))
      assert.deepEqual(exported.roots, [commitBefore])
      assert.deepEqual(
        [...exported.blocks.keys()].sort(),
        [...before.keys(), commitBefore].sort(),
        'every block of the exported state, and nothing of the later one',
      )
      assert.equal((await a.mirror.head(DID))?.commitCid, repo.commitCid, 'the commit landed')
    })
  })
}
