// One account's sync, built for real: identity through the resolver and a mock PLC directory, the
// PDS client against a fake PDS serving real signed repos, a verify worker (the real pool), the
// real Ingest taking the result in, and in archival mode a mirror on a temp SQLite archive.
// Archival mode fetches the whole repo and mirrors exactly its tree; otherwise only the signed
// head (getLatestCommit, then getBlocks, whose CAR names no root as real PDSes send it). Either
// way the result is announced with `#sync` when it changed or when asked (a repair). A head older
// than the relay's is fetched once more; a taken-down account is refused. A repo whose signature
// or tree does not verify is refused with a drop reason counted for the host, and nothing of it is
// stored. No identity, no key, a host the relay does not crawl (or has banned), another host than
// the one being resynced, or a PDS that says the repo is gone: failed without a drop.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { tempArchive } from '../archive/testing.ts'
import { startMockPlc } from '../identity/testing/mock-plc.ts'
import { DropCounter } from '../ingest/drop-counter.ts'
import { VerifyPool } from '../ingest/verify-pool.ts'
import { readCarSlice } from '../protocol/car.ts'
import { createTid } from '../protocol/syntax/index.ts'
import { HostPacer } from './pacer.ts'
import { PdsClient } from './pds-client.ts'
import { RepoSyncer, type SyncHost } from './repo-syncer.ts'
import { creates, didDocument, FakeSyncPds, ingestRig, resolveVia, testDid } from './testing.ts'

const HOST_ID = 7

class RecordingPacer extends HostPacer {
  readonly holds: { hostId: number; at: number }[] = []
  override holdUntil(hostId: number, at: number): void {
    this.holds.push({ hostId, at })
    super.holdUntil(hostId, at)
  }
}

let pool: VerifyPool
before(() => {
  pool = new VerifyPool({ size: 1 })
})
after(() => pool.close())

async function rig(archive: boolean) {
  const plc = await startMockPlc()
  const pds = await FakeSyncPds.start({ plc })
  const store = archive ? await tempArchive('sqlite') : undefined
  const r = ingestRig(store?.mirror)
  const drops = new DropCounter()
  const now = Date.now()
  const pacer = new RecordingPacer(() => now)
  const hosts = new Map<string, SyncHost>([
    [pds.hostname, { id: HOST_ID, hostname: pds.hostname, ssl: false, crawlRate: 1000 }],
  ])
  const syncer = new RepoSyncer({
    archive,
    pds: new PdsClient({
      userAgent: 'resync-test',
      allowInsecure: true,
      maxRepoBytes: 8 * 1024 * 1024,
      repoTimeoutMs: 5000,
    }),
    pacer,
    resolveIdentity: resolveVia(plc),
    hostByName: (h) => hosts.get(h),
    verifyRepo: (task) => pool.verifyRepo(task),
    resynchronize: (did, input) => r.ingest.resynchronize(did, input),
    drops,
    now: () => now,
  })
  /** The mirrored repo's blocks (commit included), by CID. */
  const mirrored = async (did: string) => {
    const chunks: Uint8Array[] = []
    for await (const c of (await store!.mirror.exportCar(did))!) chunks.push(c)
    return readCarSlice(Buffer.concat(chunks))
  }
  return {
    ...r,
    plc,
    pds,
    store,
    drops,
    pacer,
    hosts,
    syncer,
    now,
    mirrored,
    async [Symbol.asyncDispose]() {
      await pds.close()
      await plc.close()
      await store?.[Symbol.asyncDispose]()
    },
  }
}

describe('RepoSyncer in archival mode', () => {
  it('fetches the whole repo, verifies it, mirrors exactly its tree and announces it', async () => {
    await using t = await rig(true)
    const a = await t.pds.addAccount({ records: 40 })
    const out = await t.syncer.syncAccount(a.did, { announce: false })
    assert.deepEqual(out, { did: a.did, result: 'synced', rev: a.repo.rev, records: 40 })
    assert.deepEqual([t.pds.count('getRepo'), t.pds.count('getLatestCommit')], [1, 0])
    const car = await t.mirrored(a.did)
    assert.deepEqual(car.roots, [a.repo.commitCid])
    const expected = [...(await a.repo.exportBlocks()).keys(), a.repo.commitCid!]
    assert.deepEqual([...car.blocks.keys()].sort(), expected.sort())
    assert.deepEqual(
      t.appended.map((e) => [e.type, e.did, e.body.rev]),
      [['#sync', a.did, a.repo.rev]],
    )
    const state = await t.accounts.get(a.did)
    assert.deepEqual(
      [state?.hostId, state?.commitCid, state?.rev, state?.dataCid],
      [HOST_ID, a.repo.commitCid, a.repo.rev, a.repo.root],
    )
  })

  it('follows a changed repo; an unchanged one is announced only when asked', async () => {
    await using t = await rig(true)
    const a = await t.pds.addAccount({ records: 10 })
    await t.syncer.syncAccount(a.did, { announce: false })
    await t.pds.commit(a.did, [
      ...creates(3, 'n'),
      { action: 'delete', path: 'app.bsky.feed.post/p0001' },
    ])
    const changed = await t.syncer.syncAccount(a.did, { announce: false })
    assert.equal(changed.result, 'synced')
    const car = await t.mirrored(a.did)
    assert.deepEqual(car.roots, [a.repo.commitCid])
    assert.equal(car.blocks.size, (await a.repo.exportBlocks()).size + 1)
    assert.equal(t.appended.length, 2)
    const same = await t.syncer.syncAccount(a.did, { announce: false })
    assert.equal(same.result, 'unchanged')
    assert.equal(t.appended.length, 2, 'nothing announced')
    const repair = await t.syncer.syncAccount(a.did, { announce: true })
    assert.equal(repair.result, 'synced')
    assert.deepEqual(t.appended.at(-1)?.type, '#sync')
  })

  it('fetches once more when a commit arrived meanwhile, and reports stale after a second old head', async () => {
    await using t = await rig(true)
    const a = await t.pds.addAccount()
    await t.syncer.syncAccount(a.did, { announce: false })
    const synced = (await t.accounts.get(a.did))!
    // A commit the relay took in while the repo was being fetched: its rev is newer than the PDS's.
    const newer = createTid((t.now + 60_000) * 1000, 1)
    t.accounts.set({ ...synced, rev: newer }, 0)
    const stale = await t.syncer.syncAccount(a.did, { announce: false })
    assert.equal(stale.result, 'stale')
    assert.equal(t.pds.count('getRepo'), 3, 'the first sync, then two fetches')
    assert.equal((await t.store!.mirror.head(a.did))?.rev, synced.rev, 'the mirror is untouched')
    // This time the PDS moves past the relay while its first answer (the old head) is on its way.
    t.pds.afterNext('getRepo', async () => {
      await a.repo.commit(creates(1, 'later'), { revTimeMs: t.now + 120_000 })
    })
    const again = await t.syncer.syncAccount(a.did, { announce: false })
    assert.deepEqual([again.result, 'rev' in again && again.rev], ['synced', a.repo.rev])
    assert.equal(t.pds.count('getRepo'), 5)
    assert.equal((await t.store!.mirror.head(a.did))?.rev, a.repo.rev)
  })

  it('refuses a taken-down account and stores nothing of it', async () => {
    await using t = await rig(true)
    const a = await t.pds.addAccount()
    await t.syncer.syncAccount(a.did, { announce: false })
    assert.equal(await t.ingest.takeDown(a.did), true)
    await t.pds.commit(a.did)
    const out = await t.syncer.syncAccount(a.did, { announce: true })
    assert.equal(out.result, 'refused')
    assert.equal(await t.store!.mirror.head(a.did), undefined)
  })

  it('refuses a repo signed by another key: a counted drop, nothing stored or announced', async () => {
    await using t = await rig(true)
    const a = await t.pds.addAccount()
    t.pds.breakSignature(a.did)
    const out = await t.syncer.syncAccount(a.did, { announce: true })
    assert.deepEqual([out.result, 'reason' in out && out.reason], ['failed', 'bad-signature'])
    assert.equal(t.drops.forHost(HOST_ID).get('bad-signature')?.count, 1)
    assert.equal(t.drops.forHost(HOST_ID).get('bad-signature')?.lastDid, a.did)
    assert.equal(await t.store!.mirror.head(a.did), undefined)
    assert.equal(await t.accounts.get(a.did), undefined)
    assert.deepEqual(t.appended, [])
  })

  it('refuses a repo missing an MST node or a record, keeping the mirrored one as it was', async () => {
    await using t = await rig(true)
    const a = await t.pds.addAccount({ records: 60 })
    await t.syncer.syncAccount(a.did, { announce: false })
    const before = await t.mirrored(a.did)
    await t.pds.commit(a.did)
    for (const kind of ['node', 'record'] as const) {
      await t.pds.dropBlock(a.did, kind)
      const out = await t.syncer.syncAccount(a.did, { announce: true })
      assert.deepEqual([out.result, 'reason' in out && out.reason], ['failed', 'bad-car'], kind)
    }
    assert.equal(t.drops.forHost(HOST_ID).get('bad-car')?.count, 2)
    assert.deepEqual(await t.mirrored(a.did), before)
    assert.equal(t.appended.length, 1, 'only the first sync was announced')
  })

  it('holds the host back after a 429 until the PDS’s limit resets (at most 15 minutes)', async () => {
    await using t = await rig(true)
    const a = await t.pds.addAccount()
    t.pds.failNext('getRepo', 'rate-limited')
    const out = await t.syncer.syncAccount(a.did, { announce: true })
    assert.deepEqual([out.result, 'reason' in out && out.reason], ['failed', 'rate-limited'])
    assert.deepEqual(t.pacer.holds, [{ hostId: HOST_ID, at: t.now + 15 * 60_000 }])
    assert.equal(t.drops.total(), 0, 'a busy PDS is not a dropped event')
  })
})

describe('RepoSyncer with archival mode off', () => {
  it('fetches only the signed head (getLatestCommit, getBlocks), verifies it and takes it in', async () => {
    await using t = await rig(false)
    const a = await t.pds.addAccount({ records: 30 })
    const out = await t.syncer.syncAccount(a.did, { announce: false })
    assert.deepEqual(out, { did: a.did, result: 'synced', rev: a.repo.rev })
    assert.deepEqual(
      [t.pds.count('getLatestCommit'), t.pds.count('getBlocks'), t.pds.count('getRepo')],
      [1, 1, 0],
    )
    const state = await t.accounts.get(a.did)
    assert.deepEqual([state?.commitCid, state?.dataCid], [a.repo.commitCid, a.repo.root])
    assert.deepEqual(
      t.appended.map((e) => e.type),
      ['#sync'],
    )
  })

  it('repairs a desynchronized account: #sync, then active again (#account)', async () => {
    await using t = await rig(false)
    const a = await t.pds.addAccount()
    await t.syncer.syncAccount(a.did, { announce: false })
    t.accounts.set({ ...(await t.accounts.get(a.did))!, localStatus: 'desynchronized' }, 0)
    const out = await t.syncer.syncAccount(a.did, { announce: true })
    assert.equal(out.result, 'synced')
    assert.deepEqual(
      t.appended.slice(1).map((e) => e.type),
      ['#sync', '#account'],
    )
    assert.equal((await t.accounts.get(a.did))?.localStatus, 'active')
  })

  it('refuses a head signed by another key, or a getBlocks answer that is not a CAR', async () => {
    await using t = await rig(false)
    const a = await t.pds.addAccount()
    t.pds.breakSignature(a.did)
    const bad = await t.syncer.syncAccount(a.did, { announce: true })
    assert.equal('reason' in bad && bad.reason, 'bad-signature')
    const b = await t.pds.addAccount()
    t.pds.failNext('getBlocks', 'garbage')
    const garbage = await t.syncer.syncAccount(b.did, { announce: true })
    assert.equal('reason' in garbage && garbage.reason, 'bad-car')
    assert.deepEqual([...t.drops.forHost(HOST_ID)].map(([reason, r]) => [reason, r.count]).sort(), [
      ['bad-car', 1],
      ['bad-signature', 1],
    ])
    assert.equal(await t.accounts.get(a.did), undefined)
    assert.deepEqual(t.appended, [])
  })
})

describe('RepoSyncer: what it cannot sync', () => {
  const reasonOf = (out: { result: string; reason?: string }) => out.reason ?? out.result

  it('fails without asking any PDS: unknown DID, no key, an unknown or banned host, another host', async () => {
    await using t = await rig(true)
    const noDoc = testDid()
    assert.equal(
      reasonOf(await t.syncer.syncAccount(noDoc, { announce: true })),
      'identity-unavailable',
    )
    const noKey = testDid()
    t.plc.setDocument(noKey, didDocument(noKey, t.pds.url))
    assert.equal(
      reasonOf(await t.syncer.syncAccount(noKey, { announce: true })),
      'identity-unavailable',
    )
    const a = await t.pds.addAccount()
    assert.equal(
      reasonOf(
        await t.syncer.syncAccount(a.did, { announce: true, expectHost: 'pds.example.com' }),
      ),
      'wrong-host',
    )
    // A banned host is one the relay no longer names as a host to sync from.
    t.hosts.clear()
    assert.equal(reasonOf(await t.syncer.syncAccount(a.did, { announce: true })), 'unknown-host')
    assert.equal(t.pds.requests.length, 0)
    assert.equal(t.drops.total(), 0)
  })

  it('fails gone for a repo the PDS no longer has, without a drop', async () => {
    await using t = await rig(true)
    const a = await t.pds.addAccount()
    t.pds.accounts.delete(a.did)
    const out = await t.syncer.syncAccount(a.did, { announce: true })
    assert.equal(reasonOf(out), 'gone')
    assert.equal(t.drops.total(), 0)
    assert.equal(await t.store!.mirror.head(a.did), undefined)
  })
})
