// Admin account and consumer routes over real HTTP (docs/admin-api.md "Repos" and "Consumers";
// docs/design.md §4 items 11b, 12, 16): takedown and its reversal as seen on the firehose (live and on
// replay), the takedown list, repo/status answering "why is this account not flowing", repo/refresh
// re-resolving the identity and asking the PDS, and the consumer list; each error (404 unknown
// DID, 400 not taken down) and bad input (missing, wrong type, invalid, huge DIDs). Auth is
// covered in admin-routes.test.ts.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { WebSocket } from 'ws'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { encodeMessageFrame } from '../../src/protocol/frame.ts'
import { testDidDocument } from '../support/did-doc.ts'
import { FakePds } from '../support/fake-pds.ts'
import { generateKeypair } from '../support/keypair.ts'
import {
  ADMIN_KEY,
  Consumer,
  eventually,
  startTestRelay,
  type TestRelay,
} from '../support/relay-harness.ts'
import { messageFrame, TestRepo } from '../support/test-repo.ts'

const ALICE = 'did:plc:alicealicealicealicealic'
const BOB = 'did:plc:bobbobbobbobbobbobbobbob'
const CAROL = 'did:plc:carolcarolcarolcarolcaro'
/** Signs with a key its DID document does not list: every commit is dropped (bad-signature). */
const DAVE = 'did:plc:davedavedavedavedavedave'
const UNKNOWN = 'did:plc:unknownunknownunknownunk'

interface Answer {
  status: number
  json: Record<string, unknown>
}

async function call(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  opts: { body?: unknown; raw?: string } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${ADMIN_KEY}` }
  let body: string | undefined
  if (opts.raw !== undefined || opts.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = opts.raw ?? JSON.stringify(opts.body)
  }
  const res = await fetch(`${base}${path}`, { method, headers, body })
  return { status: res.status, json: (await res.json()) as Record<string, unknown> }
}

function assertError(a: Answer, status: number, error: string, what: string): void {
  assert.equal(a.status, status, `${what}: ${JSON.stringify(a.json)}`)
  assert.equal(a.json.error, error, what)
  assert.ok(typeof a.json.message === 'string' && a.json.message.length > 0, what)
}

/** Bad DIDs for a body field or a query parameter, each a 400. */
const BAD_DIDS: readonly [string, unknown][] = [
  ['number', 42],
  ['empty', ''],
  ['not a DID', 'alice.test'],
  ['no method-specific id', 'did:plc:'],
  ['upper-case method', 'did:PLC:alicealicealicealicealic'],
  ['huge', `did:plc:${'a'.repeat(5000)}`],
]

const OK = { success: 'true' }

// Once as ingest runs on the main thread, once with account shards (docs/scaling.md), where each
// of these operations is a call to the shard that owns the account, and once more with host
// threads handing the shards their events (stage 2).
for (const [name, flags] of [
  ['', []],
  [' (account shards)', ['--account-shards', '2', '--upstream-threads', '0']],
  [' (account shards, host threads)', ['--account-shards', '2', '--upstream-threads', '1']],
] as const) {
  describe(`admin repo and consumer routes${name}`, () => {
    let plc: MockPlc
    let pds: FakePds
    let relay: TestRelay
    let live: Consumer
    const repos = new Map<string, TestRepo>()
    let seq = 0
    const get = (path: string) => call(relay.url, 'GET', path)
    const post = (path: string, opts?: { body?: unknown; raw?: string }) =>
      call(relay.url, 'POST', path, opts)
    const hostId = () => relay.relay.hosts.byHostname(pds.hostname)!.id
    const processed = () =>
      eventually(() => relay.relay.hosts.connection(hostId())?.cursor === seq, 10_000, `seq ${seq}`)
    const commit = async (did: string, rkey: string) => {
      const msg = await repos
        .get(did)!
        .commit([{ action: 'create', path: `app.bsky.feed.post/${rkey}` }], { seq: ++seq })
      pds.emit(seq, messageFrame(msg))
    }
    const document = (did: string, handle: string, publicKeyMultibase: string) =>
      testDidDocument(did, pds.url, { handle, publicKeyMultibase })
    const accountEvents = (c: Consumer, did: string) =>
      c
        .messages()
        .filter((m) => m.type === '#account' && m.body.did === did)
        .map((m) => [m.body.active, m.body.status])

    before(async () => {
      plc = await startMockPlc({})
      pds = await FakePds.start()
      relay = await startTestRelay({ plcUrl: plc.url, flags: [...flags] })
      for (const did of [ALICE, BOB, CAROL, DAVE]) {
        const repo = new TestRepo(did, generateKeypair('k256'))
        repos.set(did, repo)
        const listed = did === DAVE ? generateKeypair('k256') : repo.keypair
        plc.setDocument(did, document(did, `${did.slice(8, 13)}.test`, listed.publicKeyMultibase))
      }
      assert.equal((await relay.crawl(pds.hostname)).status, 200)
      await eventually(() => pds.subscriberCount === 1)
      live = new Consumer(relay.wsUrl)
      await live.opened()
      for (const did of [ALICE, BOB, CAROL, DAVE]) await commit(did, '3laaaaaaaaaaa')
      pds.emit(
        ++seq,
        encodeMessageFrame('#account', {
          seq,
          did: CAROL,
          active: false,
          status: 'deactivated',
          time: new Date().toISOString(),
        }),
      )
      await processed()
    })
    after(async () => {
      live.close()
      await relay.close()
      await pds.close()
      await plc.close()
    })

    test('repo/status: the account as the relay sees it, flowing', async () => {
      const r = await get(`/admin/repo/status?did=${ALICE}`)
      assert.equal(r.status, 200)
      const alice = repos.get(ALICE)!
      const { createdAt, updatedAt, ...rest } = r.json
      assert.deepEqual(rest, {
        did: ALICE,
        host: pds.hostname,
        localStatus: 'active',
        upstreamStatus: 'active',
        active: true,
        throttled: false,
        takendown: false,
        desynchronized: false,
        rev: alice.rev,
        commit: alice.commitCid,
        data: alice.root,
        handle: null,
        identity: { pds: pds.url, handle: 'alice.test', hasKey: true },
        flowing: true,
        why: null,
        recentDrops: [],
      })
      for (const t of [createdAt, updatedAt]) assert.ok(!Number.isNaN(Date.parse(String(t))))
    })

    test('repo/status: why an account is not flowing (deactivated; dropped events)', async () => {
      const carol = (await get(`/admin/repo/status?did=${CAROL}`)).json
      assert.deepEqual(
        [carol.flowing, carol.why, carol.active, carol.status, carol.upstreamStatus],
        [false, 'account-inactive', false, 'deactivated', 'deactivated'],
      )
      // DAVE's only commit failed its signature check: no account, and the 404 says why.
      const dave = await get(`/admin/repo/status?did=${DAVE}`)
      assertError(dave, 404, 'RepoNotFound', 'dave')
      assert.match(String(dave.json.message), /bad-signature/)
      const unknown = await get(`/admin/repo/status?did=${UNKNOWN}`)
      assertError(unknown, 404, 'RepoNotFound', 'unknown')
      assert.match(String(unknown.json.message), /no event of it has been accepted/)
    })

    test('repo/status: missing or invalid DID → 400', async () => {
      assertError(await get('/admin/repo/status'), 400, 'InvalidRequest', 'missing')
      for (const [what, did] of BAD_DIDS) {
        const q = encodeURIComponent(String(did))
        assertError(await get(`/admin/repo/status?did=${q}`), 400, 'InvalidRequest', what)
      }
    })

    test('takeDown: #account takendown on the firehose, listed, events dropped and hidden on replay', async () => {
      const r = await post('/admin/repo/takeDown', { body: { did: ALICE } })
      assert.deepEqual([r.status, r.json], [200, OK])
      await live.until(() => accountEvents(live, ALICE).length === 1, 10_000, '#account')
      assert.deepEqual(accountEvents(live, ALICE), [[false, 'takendown']])
      assert.deepEqual((await get('/admin/repo/takedowns')).json, { dids: [ALICE] })
      await commit(ALICE, '3lbbbbbbbbbbb')
      await processed()
      const status = (await get(`/admin/repo/status?did=${ALICE}`)).json
      assert.deepEqual(
        [status.takendown, status.localStatus, status.flowing, status.why, status.status],
        [true, 'takendown', false, 'account-takendown', 'takendown'],
      )
      const drops = status.recentDrops as { reason: string; host: string }[]
      assert.deepEqual(
        drops.map((x) => [x.reason, x.host]),
        [['account-takendown', pds.hostname]],
      )
      // Replay from the start: BOB's commit is there, ALICE's is not; her #account is.
      const replay = new Consumer(relay.wsUrl, 0)
      try {
        await replay.until(() => accountEvents(replay, ALICE).length === 1, 10_000, 'replayed')
        const commits = replay.messages().filter((m) => m.type === '#commit')
        assert.deepEqual(commits.map((m) => m.body.repo).sort(), [BOB, CAROL].sort())
      } finally {
        replay.close()
      }
      // Idempotent: a second takedown answers success and emits nothing more.
      assert.deepEqual((await post('/admin/repo/takeDown', { body: { did: ALICE } })).json, OK)
      assert.deepEqual((await get('/admin/repo/takedowns')).json, { dids: [ALICE] })
    })

    test('takeDown: unknown DID 404 (and not listed); bad input 400', async () => {
      const unknown = await post('/admin/repo/takeDown', { body: { did: UNKNOWN } })
      assertError(unknown, 404, 'RepoNotFound', 'unknown')
      assert.deepEqual((await get('/admin/repo/takedowns')).json, { dids: [ALICE] })
      assertError(await post('/admin/repo/takeDown'), 400, 'InvalidRequest', 'no body')
      assertError(
        await post(`/admin/repo/takeDown?did=${BOB}`),
        400,
        'InvalidRequest',
        'query only (the body is required)',
      )
      assertError(await post('/admin/repo/takeDown', { raw: '{' }), 400, 'InvalidRequest', 'JSON')
      assertError(await post('/admin/repo/takeDown', { body: [BOB] }), 400, 'InvalidRequest', '[]')
      assertError(await post('/admin/repo/takeDown', { body: {} }), 400, 'InvalidRequest', '{}')
      for (const [what, did] of BAD_DIDS) {
        assertError(
          await post('/admin/repo/takeDown', { body: { did } }),
          400,
          'InvalidRequest',
          what,
        )
      }
      assert.deepEqual((await get('/admin/repo/takedowns')).json, { dids: [ALICE] })
    })

    test('takedowns: sorted DIDs, paged after a cursor', async () => {
      assert.deepEqual((await post('/admin/repo/takeDown', { body: { did: BOB } })).json, OK)
      assert.deepEqual((await get('/admin/repo/takedowns')).json, { dids: [ALICE, BOB] })
      assert.deepEqual((await get(`/admin/repo/takedowns?cursor=${ALICE}`)).json, { dids: [BOB] })
      assert.deepEqual((await get(`/admin/repo/takedowns?cursor=${BOB}`)).json, { dids: [] })
      assert.deepEqual((await get(`/admin/repo/takedowns?cursor=${'z'.repeat(5000)}`)).json, {
        dids: [],
      })
      assert.deepEqual((await get('/admin/repo/takedowns?cursor=')).json, { dids: [ALICE, BOB] })
    })

    test('reverseTakedown: #account active again, by query or body; errors', async () => {
      const r = await post(`/admin/repo/reverseTakedown?did=${ALICE}`)
      assert.deepEqual([r.status, r.json], [200, OK])
      await live.until(() => accountEvents(live, ALICE).length === 2, 10_000, '#account active')
      assert.deepEqual(accountEvents(live, ALICE), [
        [false, 'takendown'],
        [true, undefined],
      ])
      const byBody = await post('/admin/repo/reverseTakedown', { body: { did: BOB } })
      assert.deepEqual([byBody.status, byBody.json], [200, OK])
      assert.deepEqual((await get('/admin/repo/takedowns')).json, { dids: [] })
      const status = (await get(`/admin/repo/status?did=${ALICE}`)).json
      assert.deepEqual([status.takendown, status.flowing, status.why], [false, true, null])
      await commit(ALICE, '3lccccccccccc')
      await live.until(
        () => live.messages().some((m) => m.type === '#commit' && m.body.repo === ALICE),
        10_000,
        'alice flowing again',
      )

      const again = await post(`/admin/repo/reverseTakedown?did=${ALICE}`)
      assertError(again, 400, 'InvalidRequest', 'not taken down')
      assert.match(String(again.json.message), /not taken down/)
      assertError(
        await post(`/admin/repo/reverseTakedown?did=${UNKNOWN}`),
        404,
        'RepoNotFound',
        'unknown',
      )
      assertError(await post('/admin/repo/reverseTakedown'), 400, 'InvalidRequest', 'missing')
      for (const [what, did] of BAD_DIDS) {
        const q = encodeURIComponent(String(did))
        assertError(await post(`/admin/repo/reverseTakedown?did=${q}`), 400, 'InvalidRequest', what)
        const body = await post('/admin/repo/reverseTakedown', { body: { did } })
        assertError(body, 400, 'InvalidRequest', `body ${what}`)
      }
    })

    test('repo/refresh: re-resolves the identity and asks the PDS; answers the result', async () => {
      plc.setDocument(
        BOB,
        document(BOB, 'bob-renamed.test', repos.get(BOB)!.keypair.publicKeyMultibase),
      )
      pds.statuses.set(BOB, { active: false, status: 'suspended' })
      const r = await post(`/admin/repo/refresh?did=${BOB}`)
      assert.equal(r.status, 200)
      assert.deepEqual(
        [r.json.did, r.json.identity, r.json.pdsStatus],
        [
          BOB,
          { pds: pds.url, handle: 'bob-renamed.test', hasKey: true },
          { active: false, status: 'suspended' },
        ],
      )
      const account = r.json.account as Record<string, unknown>
      assert.deepEqual(
        [account.did, account.host, account.identity],
        [BOB, pds.hostname, { pds: pds.url, handle: 'bob-renamed.test', hasKey: true }],
      )
      const byBody = await post('/admin/repo/refresh', { body: { did: ALICE } })
      assert.deepEqual(
        [byBody.status, byBody.json.pdsStatus, (byBody.json.account as { did: string }).did],
        [200, { active: true }, ALICE],
      )
      // A DID neither the relay nor the PLC directory knows: nothing to show, said plainly.
      const unknown = await post(`/admin/repo/refresh?did=${UNKNOWN}`)
      assert.deepEqual(
        [unknown.status, unknown.json],
        [200, { did: UNKNOWN, identity: null, pdsStatus: null, account: null }],
      )
      assertError(await post('/admin/repo/refresh'), 400, 'InvalidRequest', 'missing')
      for (const [what, did] of BAD_DIDS) {
        const q = encodeURIComponent(String(did))
        assertError(await post(`/admin/repo/refresh?did=${q}`), 400, 'InvalidRequest', what)
        const body = await post('/admin/repo/refresh', { body: { did } })
        assertError(body, 400, 'InvalidRequest', `body ${what}`)
      }
    })

    test('consumers/list: each connected consumer with its address, agent and count', async () => {
      const agent = 'admin-routes-test/1'
      type Row = {
        id: unknown
        remote_addr: unknown
        connected_at: unknown
        events_consumed: number
      }
      const list = async () =>
        (await get('/admin/consumers/list')).json as unknown as (Row & { user_agent: string })[]
      const mine = async () => (await list()).find((c) => c.user_agent === agent)
      const ws = new WebSocket(`${relay.wsUrl}/xrpc/com.atproto.sync.subscribeRepos?cursor=0`, {
        headers: { 'user-agent': agent },
      })
      let received = 0
      ws.on('message', () => received++)
      try {
        await new Promise<void>((resolve, reject) => {
          ws.once('open', () => resolve())
          ws.once('error', reject)
        })
        const total = relay.relay.log.lastSeq
        await eventually(() => received === total, 10_000, 'every frame received')
        await eventually(async () => (await mine())?.events_consumed === total, 10_000, 'counted')
        const row = (await mine())!
        for (const k of ['id', 'remote_addr', 'user_agent', 'events_consumed', 'connected_at'])
          assert.ok(k in row, k)
        assert.ok(Number.isSafeInteger(row.id))
        assert.match(String(row.remote_addr), /127\.0\.0\.1/)
        assert.ok(!Number.isNaN(Date.parse(String(row.connected_at))))
        assert.equal((await list()).length, 2, 'this consumer and the live one')
      } finally {
        ws.close()
      }
      await eventually(async () => (await mine()) === undefined, 10_000, 'gone from the list')
      assert.equal((await list()).length, 1)
    })
  })
}
