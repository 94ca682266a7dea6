// Admin "Upstream subscriptions" routes over real HTTP (docs/admin-api.md; docs/design.md §4 items 15, 17,
// 20): live connections, killUpstream with and without blocking, the public-crawl switch and
// per-day limit, domain bans; the exact response shape of each, its effect on the fake PDSes'
// subscriptions and on public requestCrawl, each error, bad input (bad booleans and integers,
// invalid and huge domains, bodies that are not JSON or too large), and settings persisted across
// a restart. Host routes are in admin-hosts.test.ts, auth and pullHosts in admin-routes.test.ts.
// Every test runs twice: with the hosts' links on the relay's main thread, and on a host thread
// beside account shards (docs/scaling.md), where each operation is a message to that thread.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { encode } from '@atcute/cbor'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { concat } from '../../src/protocol/frame.ts'
import { assertError, call, type HostRecord, OK, type OkJson } from '../support/admin-client.ts'
import { FakePds } from '../support/fake-pds.ts'
import {
  eventually,
  LINK_LAYOUTS,
  startTestRelay,
  type TestRelay,
} from '../support/relay-harness.ts'

const DID = 'did:plc:alicealicealicealicealic'

for (const [mode, flags] of LINK_LAYOUTS) {
  describe(`admin subscription routes${mode}`, () => {
    let plc: MockPlc
    let relay: TestRelay
    let a: FakePds
    let b: FakePds
    let c: FakePds
    const seqs = new Map<FakePds, number>()
    const get = (path: string) => call(relay.url, 'GET', path)
    const post = (path: string, opts?: { body?: unknown; raw?: string }) =>
      call(relay.url, 'POST', path, opts)
    const publicCrawl = (hostname: string) =>
      fetch(`${relay.url}/xrpc/com.atproto.sync.requestCrawl`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ hostname }),
      })
    /** A legacy `#handle` frame: dropped (`legacy-type`), and the host's cursor moves past it. */
    const legacy = (pds: FakePds): number => {
      const seq = (seqs.get(pds) ?? 0) + 1
      seqs.set(pds, seq)
      pds.emit(
        seq,
        concat(encode({ op: 1, t: '#handle' }), encode({ seq, did: DID, handle: 'x.test' })),
      )
      return seq
    }
    const hosts = async () => (await get('/admin/pds/list')).json as HostRecord[]
    const record = async (pds: FakePds): Promise<HostRecord> => {
      const r = (await hosts()).find((h) => h.Host === pds.hostname)
      assert.ok(r, `no record for ${pds.hostname}`)
      return r
    }
    const cursorIs = (pds: FakePds, n: number) =>
      eventually(async () => (await record(pds)).Cursor === n, 10_000, `cursor ${n}`)
    const lastSubscription = (pds: FakePds) => pds.subscriptions.at(-1)?.cursor
    const conns = async () => ((await get('/admin/subs/getUpstreamConns')).json as string[]).sort()

    before(async () => {
      plc = await startMockPlc({})
      relay = await startTestRelay({ plcUrl: plc.url, flags: [...flags] })
      a = await FakePds.start()
      b = await FakePds.start()
      c = await FakePds.start()
    })
    after(async () => {
      await relay.close()
      for (const p of [a, b, c]) await p.close()
      await plc.close()
    })

    test('setup: two live hosts; getUpstreamConns lists the hosts with a live connection', async () => {
      assert.deepEqual(await conns(), [])
      for (const p of [a, b]) assert.deepEqual((await relay.crawl(p.hostname)).status, 200)
      await eventually(() => a.subscriberCount === 1 && b.subscriberCount === 1)
      for (let i = 0; i < 3; i++) legacy(a)
      await cursorIs(a, 3)
      assert.deepEqual(await conns(), [a.hostname, b.hostname].sort())
    })

    test('killUpstream: disconnects without blocking; a crawl request reconnects from the cursor', async () => {
      const r = await post(`/admin/subs/killUpstream?host=${a.hostname}`)
      assert.deepEqual([r.status, r.json], [200, OK])
      await eventually(() => a.subscriberCount === 0, 10_000, 'disconnected')
      const rec = await record(a)
      assert.deepEqual([rec.Blocked, rec.Status, rec.HasActiveConnection], [false, 'active', false])
      assert.deepEqual(await conns(), [b.hostname])
      const again = await post('/admin/pds/requestCrawl', { body: { hostname: a.hostname } })
      assert.deepEqual([again.status, (again.json as { success: string }).success], [200, 'true'])
      await eventually(() => a.subscriberCount === 1, 10_000, 'reconnected')
      assert.equal(lastSubscription(a), '3')
    })

    test('killUpstream with block=true: disconnects and blocks; unblock brings it back', async () => {
      const r = await post(`/admin/subs/killUpstream?host=${a.hostname}&block=true`)
      assert.deepEqual([r.status, r.json], [200, OK])
      await eventually(() => a.subscriberCount === 0, 10_000, 'disconnected')
      assert.deepEqual([(await record(a)).Blocked, (await record(a)).Status], [true, 'banned'])
      assert.deepEqual((await post(`/admin/pds/unblock?host=${a.hostname}`)).json, OK)
      await eventually(() => a.subscriberCount === 1, 10_000, 'reconnected')
      assert.equal(lastSubscription(a), '3')
    })

    test('killUpstream: bad input 400, unknown host 404', async () => {
      const route = '/admin/subs/killUpstream'
      assertError(await post(route), 400, 'InvalidRequest', 'without host')
      assertError(await post(`${route}?host=`), 400, 'InvalidRequest', 'empty')
      for (const host of ['not%20a%20host!', `${'a'.repeat(600)}.com`, '10.0.0.1']) {
        assertError(await post(`${route}?host=${host}`), 400, 'InvalidRequest', host.slice(0, 20))
      }
      assertError(await post(`${route}?host=nope.example.com`), 404, 'HostNotFound', 'unknown')
      for (const block of ['maybe', '1', 'TRUE', '']) {
        const r = await post(`${route}?host=${a.hostname}&block=${block}`)
        if (block === '') assert.equal(r.status, 200, 'an empty block= means no block')
        else assertError(r, 400, 'InvalidRequest', `block=${block}`)
      }
      await eventually(() => a.subscriberCount === 0, 10_000, 'killed by the last call')
      assert.equal((await record(a)).Blocked, false)
      assert.equal(
        ((await post('/admin/pds/requestCrawl', { body: { hostname: a.hostname } })).json as OkJson)
          .success,
        'true',
      )
      await eventually(() => a.subscriberCount === 1, 10_000, 'back')
    })

    test('perDayLimit and setPerDayLimit: shown with its source, enforced on public crawls', async () => {
      assert.deepEqual((await get('/admin/subs/perDayLimit')).json, {
        limit: 50,
        source: 'default',
      })
      const r = await post('/admin/subs/setPerDayLimit?limit=2')
      assert.deepEqual([r.status, r.json], [200, OK])
      assert.deepEqual((await get('/admin/subs/perDayLimit')).json, { limit: 2, source: 'admin' })
      assert.equal((await publicCrawl(c.hostname)).status, 429)
      for (const limit of ['', 'abc', '-1', '1.5', '1e3', '0x10', '1000001', '9'.repeat(40)]) {
        const bad = await post(`/admin/subs/setPerDayLimit?limit=${limit}`)
        assertError(bad, 400, 'InvalidRequest', `limit=${limit}`)
      }
      assertError(await post('/admin/subs/setPerDayLimit'), 400, 'InvalidRequest', 'no limit')
      assert.deepEqual((await post('/admin/subs/setPerDayLimit?limit=3')).json, OK)
      assert.equal((await publicCrawl(c.hostname)).status, 200)
      await eventually(() => c.subscriberCount === 1, 10_000, 'c subscribed')
    })

    test('setEnabled and getEnabled: public requestCrawl off (403) and on again', async () => {
      assert.deepEqual((await get('/admin/subs/getEnabled')).json, {
        enabled: true,
        source: 'default',
      })
      assert.deepEqual((await post('/admin/subs/setEnabled?enabled=false')).json, OK)
      assert.deepEqual((await get('/admin/subs/getEnabled')).json, {
        enabled: false,
        source: 'admin',
      })
      const pub = await publicCrawl(c.hostname)
      assert.equal(pub.status, 403)
      assert.equal(((await pub.json()) as { error: string }).error, 'Forbidden')
      for (const q of ['', '?enabled=', '?enabled=yes', '?enabled=1', '?enabled=FALSE']) {
        assertError(await post(`/admin/subs/setEnabled${q}`), 400, 'InvalidRequest', q)
      }
      assert.deepEqual((await get('/admin/subs/getEnabled')).json, {
        enabled: false,
        source: 'admin',
      })
      assert.deepEqual((await post('/admin/subs/setEnabled?enabled=true')).json, OK)
      assert.equal((await publicCrawl(c.hostname)).status, 200)
    })

    test('banDomain disconnects matching live hosts; listDomainBans; unbanDomain lifts it', async () => {
      assert.deepEqual((await get('/admin/subs/listDomainBans')).json, { banned_domains: [] })
      // b is blocked by an operator; a and c are live.
      assert.deepEqual(
        (await post(`/admin/subs/killUpstream?host=${b.hostname}&block=true`)).json,
        OK,
      )
      await eventually(() => a.subscriberCount + c.subscriberCount === 2 && b.subscriberCount === 0)
      const r = await post('/admin/subs/banDomain', { body: { Domain: 'localhost' } })
      assert.deepEqual([r.status, r.json], [200, { ...OK, disconnected: 2 }])
      await eventually(() => a.subscriberCount + c.subscriberCount === 0, 10_000, 'disconnected')
      for (const rec of await hosts()) assert.deepEqual([rec.Blocked, rec.Status], [true, 'banned'])
      assert.deepEqual(await conns(), [])
      assert.deepEqual((await get('/admin/subs/listDomainBans')).json, {
        banned_domains: ['localhost'],
      })
      for (const hostname of ['localhost:1', 'sub.localhost:1']) {
        const crawl = await post('/admin/pds/requestCrawl', { body: { hostname } })
        assertError(crawl, 400, 'HostBanned', hostname)
      }
      const lifted = await post('/admin/subs/unbanDomain', { body: { domain: 'localhost' } })
      assert.deepEqual([lifted.status, lifted.json], [200, OK])
      await eventually(() => a.subscriberCount + c.subscriberCount === 2, 10_000, 'reconnected')
      assert.equal(lastSubscription(a), '3')
      assert.deepEqual((await get('/admin/subs/listDomainBans')).json, { banned_domains: [] })
      assert.deepEqual(
        [(await record(b)).Blocked, (await record(a)).Blocked],
        [true, false],
        'a host blocked by an operator stays blocked',
      )
      assertError(
        await post('/admin/subs/unbanDomain', { body: { Domain: 'localhost' } }),
        404,
        'NotFound',
        'not banned',
      )
      for (const route of ['/admin/subs/banDomain', '/admin/subs/unbanDomain']) {
        for (const [what, opts] of [
          ['no body', {}],
          ['not JSON', { raw: 'Domain=x' }],
          ['array', { body: ['example.com'] }],
          ['no Domain', { body: { host: 'example.com' } }],
          ['number', { body: { Domain: 42 } }],
          ['invalid', { body: { Domain: 'not a domain!' } }],
          ['long label', { body: { Domain: `${'x'.repeat(70)}.com` } }],
          ['huge', { body: { Domain: `${'a.'.repeat(200)}com` } }],
        ] as const) {
          assertError(await post(route, opts), 400, 'InvalidRequest', `${route} ${what}`)
        }
        const tooBig = await post(route, { body: { Domain: 'x'.repeat(70_000) } })
        assertError(tooBig, 413, 'PayloadTooLarge', `${route} over 64 KiB`)
      }
      assert.deepEqual((await get('/admin/subs/listDomainBans')).json, { banned_domains: [] })
    })

    test('settings, bans and blocks persist across a restart', async () => {
      await post('/admin/subs/banDomain', { body: { Domain: 'banned.example.com' } })
      await post('/admin/subs/setEnabled?enabled=false')
      const dir = relay.dir
      const subs = a.subscriptions.length
      await relay.close({ keepDir: true })
      relay = await startTestRelay({ plcUrl: plc.url, dir, flags: [...flags] })
      assert.deepEqual((await get('/admin/subs/perDayLimit')).json, { limit: 3, source: 'admin' })
      assert.deepEqual((await get('/admin/subs/getEnabled')).json, {
        enabled: false,
        source: 'admin',
      })
      assert.deepEqual((await get('/admin/subs/listDomainBans')).json, {
        banned_domains: ['banned.example.com'],
      })
      assert.equal((await record(b)).Blocked, true)
      await eventually(
        () => a.subscriptions.length === subs + 1 && a.subscriberCount === 1,
        10_000,
        'a resubscribed',
      )
      assert.equal(lastSubscription(a), '3')
      assert.equal(b.subscriberCount, 0)
    })
  })
}
