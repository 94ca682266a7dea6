// Admin host routes over real HTTP (docs/admin-api.md "Hosts"; docs/design.md §4 items 7, 13, 15, 17, 20):
// the happy path of each with its exact response shape and its effect on the fake PDSes'
// subscriptions, each error it gives, bad input (missing fields, wrong types, huge values, invalid
// hostnames and domains), and what persists across a restart. The "Upstream subscriptions" routes
// are in admin-subs.test.ts, auth and pullHosts in admin-routes.test.ts.
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
  describe(`admin host routes${mode}`, () => {
    let plc: MockPlc
    let relay: TestRelay
    let a: FakePds
    let b: FakePds
    let d: FakePds
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
      d = await FakePds.start()
    })
    after(async () => {
      await relay.close()
      for (const p of [a, b, d]) await p.close()
      await plc.close()
    })

    test('requestCrawl: {"success":"true"} and a subscription; bad hostnames 400', async () => {
      assert.deepEqual(await conns(), [])
      for (const p of [a, b]) {
        const r = await post('/admin/pds/requestCrawl', { body: { hostname: p.hostname } })
        assert.equal(r.status, 200)
        // success as before, plus where the new host is read from (its live head here).
        const { success, host, cursor } = r.json as Record<string, unknown>
        assert.deepEqual({ success, host, cursor }, { ...OK, host: p.hostname, cursor: null })
      }
      await eventually(() => a.subscriberCount === 1 && b.subscriberCount === 1)
      assert.equal(lastSubscription(a), null)
      for (const [what, body] of [
        ['missing hostname', { body: {} }],
        ['number', { body: { hostname: 42 } }],
        ['invalid', { body: { hostname: 'not a host!' } }],
        ['IP address', { body: { hostname: '10.0.0.1' } }],
        ['huge', { body: { hostname: `${'a'.repeat(5000)}.com` } }],
        ['array body', { body: [a.hostname] }],
        ['not JSON', { raw: 'hostname=x' }],
      ] as const) {
        assertError(await post('/admin/pds/requestCrawl', body), 400, 'InvalidRequest', what)
      }
      for (let i = 0; i < 3; i++) legacy(a)
      await cursorIs(a, 3)
    })

    test('pds/list: one record per host with the documented fields', async () => {
      const list = await hosts()
      assert.deepEqual(
        list.map((h) => h.Host),
        [a.hostname, b.hostname],
      )
      const r = list[0]!
      const limits = { RateLimit: 50, HourlyEventLimit: 2600, DailyEventLimit: 21000 }
      assert.deepEqual(
        {
          ...Object.fromEntries(
            ['Host', 'Did', 'SSL', 'Cursor', 'Registered', 'Blocked', 'Trusted', 'Status'].map(
              (k) => [k, r[k]],
            ),
          ),
          ...Object.fromEntries(Object.keys(limits).map((k) => [k, r[k]])),
          ...Object.fromEntries(
            ['CrawlRateLimit', 'RepoCount', 'RepoLimit', 'UserCount'].map((k) => [k, r[k]]),
          ),
          HasActiveConnection: r.HasActiveConnection,
          EventsSeenSinceStartup: r.EventsSeenSinceStartup,
          PerSecondEventRate: r.PerSecondEventRate,
          PerHourEventRate: r.PerHourEventRate,
          PerDayEventRate: r.PerDayEventRate,
          CrawlRate: r.CrawlRate,
          SyncValidation: r.SyncValidation,
        },
        {
          Host: a.hostname,
          Did: '',
          SSL: false,
          Cursor: 3,
          Registered: true,
          Blocked: false,
          Trusted: false,
          Status: 'active',
          ...limits,
          CrawlRateLimit: 5,
          RepoCount: 0,
          RepoLimit: 100,
          UserCount: 0,
          HasActiveConnection: true,
          EventsSeenSinceStartup: 3,
          PerSecondEventRate: { Max: 50, Window: 1 },
          PerHourEventRate: { Max: 2600, Window: 3600 },
          PerDayEventRate: { Max: 21000, Window: 86400 },
          CrawlRate: { Max: 5, Window: 1 },
          SyncValidation: { mode: 'auto', effective: 'lenient', pinned: false },
        },
      )
      assert.ok(Number.isSafeInteger(r.ID) && r.ID < list[1]!.ID)
      assert.ok(!Number.isNaN(Date.parse(String(r.CreatedAt))))
      // A legacy frame is dropped before its body is read: no DID to name.
      const last = r.LastError as { reason: string; at: string; did: string | null }
      assert.deepEqual([last.reason, last.did], ['legacy-type', null])
      assert.ok(!Number.isNaN(Date.parse(last.at)))
      const drops = r.RecentDrops as { reason: string; count1h: number; count24h: number }[]
      assert.deepEqual(
        drops.map((x) => [x.reason, x.count1h, x.count24h]),
        [['legacy-type', 3, 3]],
      )
      assert.deepEqual([list[1]!.Cursor, list[1]!.LastError, list[1]!.RecentDrops], [0, null, []])
    })

    test('changeLimits: stored and shown in the host record; bad values 400, unknown host 404', async () => {
      const r = await post('/admin/pds/changeLimits', {
        body: {
          host: a.hostname,
          per_second: 7,
          per_hour: 700,
          per_day: 7000,
          crawl_rate: 3,
          repo_limit: 12,
          sync_validation: 'strict',
        },
      })
      assert.deepEqual([r.status, r.json], [200, OK])
      const want = {
        RateLimit: 7,
        HourlyEventLimit: 700,
        DailyEventLimit: 7000,
        CrawlRateLimit: 3,
        RepoLimit: 12,
        PerSecondEventRate: { Max: 7, Window: 1 },
        PerHourEventRate: { Max: 700, Window: 3600 },
        PerDayEventRate: { Max: 7000, Window: 86400 },
        CrawlRate: { Max: 3, Window: 1 },
        SyncValidation: { mode: 'strict', effective: 'strict', pinned: true },
      }
      const shown = async () => {
        const rec = await record(a)
        return Object.fromEntries(Object.keys(want).map((k) => [k, rec[k]]))
      }
      assert.deepEqual(await shown(), want)
      // Only the fields given change; the host may be written with a scheme and in capitals.
      const partial = await post('/admin/pds/changeLimits', {
        body: { host: `HTTP://${a.hostname.toUpperCase()}/`, per_hour: 800 },
      })
      assert.deepEqual([partial.status, partial.json], [200, OK])
      Object.assign(want, { HourlyEventLimit: 800, PerHourEventRate: { Max: 800, Window: 3600 } })
      assert.deepEqual(await shown(), want)

      const path = '/admin/pds/changeLimits'
      assertError(await post(path), 400, 'InvalidRequest', 'no body')
      assertError(await post(path, { raw: '{"host":' }), 400, 'InvalidRequest', 'bad JSON')
      assertError(await post(path, { body: [a.hostname] }), 400, 'InvalidRequest', 'array')
      assertError(await post(path, { body: { per_second: 5 } }), 400, 'InvalidRequest', 'no host')
      assertError(await post(path, { body: { host: 42 } }), 400, 'InvalidRequest', 'host number')
      for (const host of ['not a host!', `${'a'.repeat(600)}.com`, '127.0.0.1']) {
        assertError(await post(path, { body: { host } }), 400, 'InvalidRequest', host.slice(0, 20))
      }
      assertError(
        await post(path, { body: { host: 'nope.example.com', per_second: 5 } }),
        404,
        'HostNotFound',
        'unknown host',
      )
      for (const [field, value] of [
        ['per_second', '10'],
        ['per_second', -1],
        ['per_second', 1.5],
        ['per_second', 0],
        ['per_hour', 1e12],
        ['per_day', true],
        ['crawl_rate', []],
        ['repo_limit', 2 ** 53],
        ['sync_validation', 'sometimes'],
        ['sync_validation', 1],
      ] as const) {
        const bad = await post(path, { body: { host: a.hostname, [field]: value } })
        assertError(bad, 400, 'InvalidRequest', `${field}=${JSON.stringify(value)}`)
        assert.match(String((bad.json as { message: string }).message), new RegExp(field))
        // The body is checked before the host is looked up: a bad field is a 400 for any host.
        const unknown = await post(path, { body: { host: 'nope.example.com', [field]: value } })
        assertError(
          unknown,
          400,
          'InvalidRequest',
          `unknown host, ${field}=${JSON.stringify(value)}`,
        )
      }
      assert.deepEqual(await shown(), want, 'refused changes change nothing')
    })

    test('block: the host is disconnected, listed as Blocked and refused for crawls', async () => {
      const r = await post(`/admin/pds/block?host=${a.hostname}`)
      assert.deepEqual([r.status, r.json], [200, OK])
      await eventually(() => a.subscriberCount === 0, 10_000, 'disconnected')
      const rec = await record(a)
      assert.deepEqual(
        [rec.Blocked, rec.Status, rec.HasActiveConnection, rec.Cursor],
        [true, 'banned', false, 3],
      )
      assert.deepEqual(await conns(), [b.hostname])
      const pub = await publicCrawl(a.hostname)
      assert.equal(pub.status, 400)
      assert.equal(((await pub.json()) as { error: string }).error, 'HostBanned')
      const adm = await post('/admin/pds/requestCrawl', { body: { hostname: a.hostname } })
      assertError(adm, 400, 'HostBanned', 'admin crawl of a blocked host')
      legacy(a)
      legacy(a)
    })

    test('unblock: reconnects from the stored cursor', async () => {
      const before = a.subscriptions.length
      const r = await post(`/admin/pds/unblock?host=${a.hostname}`)
      assert.deepEqual([r.status, r.json], [200, OK])
      await eventually(() => a.subscriberCount === 1, 10_000, 'reconnected')
      assert.equal(a.subscriptions.length, before + 1)
      assert.equal(lastSubscription(a), '3')
      await cursorIs(a, 5)
      const rec = await record(a)
      assert.deepEqual([rec.Blocked, rec.Status, rec.HasActiveConnection], [false, 'active', true])
    })

    test('resetCursor: resubscribes without a cursor; a blocked host stays disconnected', async () => {
      const before = a.subscriptions.length
      const r = await post(`/admin/pds/resetCursor?host=${a.hostname}`)
      assert.deepEqual([r.status, r.json], [200, OK])
      await eventually(
        () => a.subscriptions.length === before + 1 && a.subscriberCount === 1,
        10_000,
        'resubscribed',
      )
      assert.equal(lastSubscription(a), null)
      assert.equal((await record(a)).Cursor, 0)
      legacy(a)
      await cursorIs(a, 6)

      assert.deepEqual((await post(`/admin/pds/block?host=${b.hostname}`)).json, OK)
      await eventually(() => b.subscriberCount === 0, 10_000, 'b disconnected')
      const subs = b.subscriptions.length
      assert.deepEqual((await post(`/admin/pds/resetCursor?host=${b.hostname}`)).json, OK)
      const rec = await record(b)
      assert.deepEqual([rec.Blocked, rec.HasActiveConnection], [true, false])
      assert.equal(b.subscriptions.length, subs)
    })

    test('block, unblock, resetCursor: bad input 400, unknown host 404', async () => {
      for (const route of ['/admin/pds/block', '/admin/pds/unblock', '/admin/pds/resetCursor']) {
        assertError(await post(route), 400, 'InvalidRequest', `${route} without host`)
        assertError(await post(`${route}?host=`), 400, 'InvalidRequest', `${route} empty`)
        for (const host of ['not%20a%20host!', `${'a'.repeat(600)}.com`, '10.0.0.1']) {
          assertError(await post(`${route}?host=${host}`), 400, 'InvalidRequest', `${route} bad`)
        }
        assertError(await post(`${route}?host=nope.example.com`), 404, 'HostNotFound', route)
      }
      assert.equal(a.subscriberCount, 1, 'refused calls change nothing')
    })

    test('trusted domains: added and removed with their source; hosts under one are trusted (new and existing)', async () => {
      const base = ['*.host.bsky.network']
      assert.deepEqual((await get('/admin/pds/trustedDomains')).json, {
        trusted_domains: base,
        source: 'default',
      })
      assert.deepEqual((await post('/admin/pds/addTrustedDomain?domain=localhost')).json, OK)
      assert.deepEqual((await post('/admin/pds/addTrustedDomain?domain=LocalHost')).json, OK)
      assert.deepEqual((await get('/admin/pds/trustedDomains')).json, {
        trusted_domains: [...base, 'localhost'],
        source: 'admin',
      })
      assert.equal(
        ((await post('/admin/pds/requestCrawl', { body: { hostname: d.hostname } })).json as OkJson)
          .success,
        'true',
      )
      const rec = await record(d)
      assert.deepEqual([rec.Trusted, rec.RateLimit], [true, 5000])
      assert.deepEqual((await post('/admin/pds/removeTrustedDomain?domain=localhost')).json, OK)
      assert.equal(
        (await record(d)).Trusted,
        false,
        'an existing host loses the trust with its domain',
      )
      assert.equal((await record(a)).Trusted, false)
      assert.deepEqual((await post('/admin/pds/addTrustedDomain?domain=localhost')).json, OK)
      assert.deepEqual(
        [(await record(a)).Trusted, (await record(d)).Trusted],
        [true, true],
        'existing hosts gain it',
      )
      assert.deepEqual((await post('/admin/pds/removeTrustedDomain?domain=localhost')).json, OK)
      assert.deepEqual((await get('/admin/pds/trustedDomains')).json, {
        trusted_domains: base,
        source: 'admin',
      })
      const again = await post('/admin/pds/removeTrustedDomain?domain=localhost')
      assertError(again, 404, 'NotFound', 'not trusted')
      for (const route of ['/admin/pds/addTrustedDomain', '/admin/pds/removeTrustedDomain']) {
        for (const q of [
          '',
          '?domain=',
          '?domain=not%20a%20domain!',
          `?domain=${'a'.repeat(300)}`,
        ]) {
          assertError(
            await post(`${route}${q}`),
            400,
            'InvalidRequest',
            `${route}${q.slice(0, 20)}`,
          )
        }
      }
      assert.deepEqual((await get('/admin/pds/trustedDomains')).json, {
        trusted_domains: base,
        source: 'admin',
      })
    })

    test('limits, trusted domains and blocks persist across a restart', async () => {
      const dir = relay.dir
      const subs = a.subscriptions.length
      await relay.close({ keepDir: true })
      relay = await startTestRelay({ plcUrl: plc.url, dir, flags: [...flags] })
      const rec = await record(a)
      assert.deepEqual(
        [
          rec.RateLimit,
          rec.HourlyEventLimit,
          rec.DailyEventLimit,
          rec.RepoLimit,
          rec.SyncValidation,
        ],
        [7, 800, 7000, 12, { mode: 'strict', effective: 'strict', pinned: true }],
      )
      assert.deepEqual((await get('/admin/pds/trustedDomains')).json, {
        trusted_domains: ['*.host.bsky.network'],
        source: 'admin',
      })
      assert.equal(
        (await record(d)).Trusted,
        false,
        'trust follows the (persisted) trusted domains',
      )
      assert.equal((await record(b)).Blocked, true)
      await eventually(
        () => a.subscriptions.length === subs + 1 && a.subscriberCount === 1,
        10_000,
        'a resubscribed',
      )
      assert.equal(lastSubscription(a), '6')
      assert.equal(b.subscriberCount, 0)
    })
  })
}
