// Public read routes over real HTTP (Lexicons com.atproto.sync.*; docs/design.md §4 items 12, 19):
// happy paths, each error they can give, and bad parameters.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { encode } from '@atcute/cbor'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { concat, encodeMessageFrame } from '../../src/protocol/frame.ts'
import { testDidDocument } from '../support/did-doc.ts'
import { FakePds } from '../support/fake-pds.ts'
import { generateKeypair } from '../support/keypair.ts'
import { eventually, startTestRelay, type TestRelay } from '../support/relay-harness.ts'
import { messageFrame, TestRepo } from '../support/test-repo.ts'

const ALICE = 'did:plc:alicealicealicealicealic'
const BOB = 'did:plc:bobbobbobbobbobbobbobbob'
const CAROL = 'did:plc:carolcarolcarolcarolcaro'

// Once as ingest runs on the main thread, once with account shards (docs/scaling.md): there the
// routes read each account's state from the shard that owns it; once more with host threads
// handing the shards their events (stage 2).
for (const [name, flags] of [
  ['', []],
  [' (account shards)', ['--account-shards', '2', '--upstream-threads', '0']],
  [' (account shards, host threads)', ['--account-shards', '2', '--upstream-threads', '1']],
] as const) {
  describe(`public read routes${name}`, () => {
    let plc: MockPlc
    let pds: FakePds
    let relay: TestRelay
    const repos = new Map<string, TestRepo>()
    let seq = 0
    const get = async (path: string) => {
      const res = await fetch(`${relay.url}${path}`, { redirect: 'manual' })
      const text = await res.text()
      return {
        status: res.status,
        json: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : null,
        text,
        res,
      }
    }
    const account = (did: string, active: boolean, status?: string) =>
      pds.emit(
        ++seq,
        encodeMessageFrame('#account', {
          seq,
          did,
          active,
          ...(status ? { status } : {}),
          time: new Date().toISOString(),
        }),
      )

    before(async () => {
      plc = await startMockPlc({})
      pds = await FakePds.start()
      relay = await startTestRelay({ plcUrl: plc.url, flags: [...flags] })
      for (const did of [ALICE, BOB, CAROL]) {
        const repo = new TestRepo(did, generateKeypair('k256'))
        repos.set(did, repo)
        plc.setDocument(
          did,
          testDidDocument(did, pds.url, {
            handle: `${did.slice(8, 13)}.test`,
            publicKeyMultibase: repo.keypair.publicKeyMultibase,
          }),
        )
      }
      assert.equal((await relay.crawl(pds.hostname)).status, 200)
      await eventually(() => pds.subscriberCount === 1)
      for (const [did, repo] of repos) {
        const msg = await repo.commit(
          [{ action: 'create', path: 'app.bsky.feed.post/3laaaaaaaaaaa' }],
          { seq: ++seq },
        )
        pds.emit(seq, messageFrame(msg))
        void did
      }
      account(BOB, false, 'deactivated')
      account(CAROL, false, 'deleted')
      // A legacy frame: dropped and counted for the host.
      pds.emit(
        ++seq,
        concat(encode({ op: 1, t: '#handle' }), encode({ seq, did: ALICE, handle: 'x.test' })),
      )
      const hostId = relay.relay.hosts.byHostname(pds.hostname)!.id
      await eventually(
        () => relay.relay.hosts.connection(hostId)?.cursor === seq,
        10_000,
        'all processed',
      )
    })
    after(async () => {
      await relay.close()
      await pds.close()
      await plc.close()
    })

    test('getRepoStatus: active, deactivated, deleted; unknown → 404; bad DID → 400', async () => {
      const a = await get(`/xrpc/com.atproto.sync.getRepoStatus?did=${ALICE}`)
      assert.deepEqual(a.json, { did: ALICE, active: true, rev: repos.get(ALICE)!.rev })
      const b = await get(`/xrpc/com.atproto.sync.getRepoStatus?did=${BOB}`)
      assert.deepEqual([b.json?.active, b.json?.status], [false, 'deactivated'])
      const c = await get(`/xrpc/com.atproto.sync.getRepoStatus?did=${CAROL}`)
      assert.deepEqual([c.json?.active, c.json?.status], [false, 'deleted'])
      const u = await get(
        '/xrpc/com.atproto.sync.getRepoStatus?did=did:plc:unknownunknownunknownunk',
      )
      assert.deepEqual([u.status, u.json?.error], [404, 'RepoNotFound'])
      const bad = await get('/xrpc/com.atproto.sync.getRepoStatus?did=nope')
      assert.equal(bad.status, 400)
      assert.match(String(bad.json?.message), /did/)
      assert.equal((await get('/xrpc/com.atproto.sync.getRepoStatus')).status, 400)
    })

    test('getLatestCommit: the head; 403 RepoDeactivated; 404 deleted and unknown', async () => {
      const a = await get(`/xrpc/com.atproto.sync.getLatestCommit?did=${ALICE}`)
      assert.deepEqual(a.json, { cid: repos.get(ALICE)!.commitCid, rev: repos.get(ALICE)!.rev })
      const b = await get(`/xrpc/com.atproto.sync.getLatestCommit?did=${BOB}`)
      assert.deepEqual([b.status, b.json?.error], [403, 'RepoDeactivated'])
      const c = await get(`/xrpc/com.atproto.sync.getLatestCommit?did=${CAROL}`)
      assert.deepEqual(
        [c.status, c.json?.error, c.json?.message],
        [404, 'RepoNotFound', 'account deleted'],
      )
    })

    test('getRepo redirects to the account PDS (http for a development host)', async () => {
      const a = await get(`/xrpc/com.atproto.sync.getRepo?did=${ALICE}&since=3laaaaaaaaaaa`)
      assert.equal(a.status, 302)
      assert.equal(
        a.res.headers.get('location'),
        `${pds.url}/xrpc/com.atproto.sync.getRepo?did=${encodeURIComponent(ALICE)}&since=3laaaaaaaaaaa`,
      )
      assert.equal((await get(`/xrpc/com.atproto.sync.getRepo?did=${BOB}`)).status, 403)
      assert.equal(
        (await get(`/xrpc/com.atproto.sync.getRepo?did=${ALICE}&since=notatid`)).status,
        400,
      )
    })

    test('listRepos: accounts with a known head, paged by DID', async () => {
      await relay.relay.checkpoint()
      const page1 = await get('/xrpc/com.atproto.sync.listRepos?limit=2')
      const repos1 = page1.json?.repos as {
        did: string
        head: string
        rev: string
        active: boolean
        status?: string
      }[]
      assert.equal(repos1.length, 2)
      assert.ok(page1.json?.cursor)
      const page2 = await get(
        `/xrpc/com.atproto.sync.listRepos?limit=2&cursor=${page1.json?.cursor}`,
      )
      const all = [...repos1, ...((page2.json?.repos ?? []) as typeof repos1)]
      assert.deepEqual(all.map((r) => r.did).sort(), [ALICE, BOB, CAROL].sort())
      const bob = all.find((r) => r.did === BOB)!
      assert.deepEqual(
        [bob.active, bob.status, bob.head],
        [false, 'deactivated', repos.get(BOB)!.commitCid],
      )
      for (const q of ['limit=0', 'limit=1001', 'limit=abc']) {
        assert.equal((await get(`/xrpc/com.atproto.sync.listRepos?${q}`)).status, 400, q)
      }
    })

    test('listRepos: a head newer than the last checkpoint shows at once', async () => {
      await relay.relay.checkpoint()
      const msg = await repos
        .get(ALICE)!
        .commit([{ action: 'create', path: 'app.bsky.feed.post/3lbbbbbbbbbbb' }], { seq: ++seq })
      pds.emit(seq, messageFrame(msg))
      const hostId = relay.relay.hosts.byHostname(pds.hostname)!.id
      await eventually(() => relay.relay.hosts.connection(hostId)?.cursor === seq, 10_000, 'seen')
      const page = await get('/xrpc/com.atproto.sync.listRepos?limit=1000')
      const alice = ((page.json?.repos ?? []) as { did: string; head: string }[]).find(
        (r) => r.did === ALICE,
      )
      assert.equal(alice?.head, msg.commit.$link, 'the new head, before any checkpoint wrote it')
    })

    test('listHosts and getHostStatus, with recent drop reasons but no DIDs; the public host page', async () => {
      const list = await get('/xrpc/com.atproto.sync.listHosts')
      const hosts = list.json?.hosts as {
        hostname: string
        seq: number
        accountCount: number
        status: string
      }[]
      assert.equal(hosts.length, 1)
      assert.deepEqual(
        [hosts[0]!.hostname, hosts[0]!.status, hosts[0]!.seq],
        [pds.hostname, 'active', seq],
      )
      const status = await get(`/xrpc/com.atproto.sync.getHostStatus?hostname=${pds.hostname}`)
      const drops = status.json?.recentDrops as {
        reason: string
        count1h: number
        count24h: number
      }[]
      assert.deepEqual(
        drops.map((d) => [d.reason, d.count1h, d.count24h]),
        [['legacy-type', 1, 1]],
      )
      assert.doesNotMatch(status.text, /did:plc/)
      const missing = await get('/xrpc/com.atproto.sync.getHostStatus?hostname=nope.example.com')
      assert.deepEqual([missing.status, missing.json?.error], [404, 'HostNotFound'])
      assert.equal((await get('/xrpc/com.atproto.sync.getHostStatus')).status, 400)
      assert.equal((await get('/xrpc/com.atproto.sync.listHosts?cursor=x')).status, 400)
      const page = await get(`/host?hostname=${pds.hostname}`)
      assert.match(page.res.headers.get('content-type') ?? '', /text\/html/)
      assert.match(page.text, /legacy-type/)
      assert.doesNotMatch(page.text, /did:plc/)
    })
  })
}
