// requestCrawl, public and admin (docs/design.md §4 items 18, 20), and the headers every response
// carries (item 5), over real HTTP against a real relay; the crawl tests run again with account
// shards and a host thread, where a crawled host's link is a message to its thread.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { FakePds } from '../support/fake-pds.ts'
import {
  ADMIN_KEY,
  eventually,
  LINK_LAYOUTS,
  startTestRelay,
  type TestRelay,
} from '../support/relay-harness.ts'

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })

for (const [mode, flags] of LINK_LAYOUTS) {
  describe(`requestCrawl${mode}`, () => {
    let plc: MockPlc
    let relay: TestRelay
    let pdses: FakePds[] = []
    before(async () => {
      plc = await startMockPlc({})
      relay = await startTestRelay({
        plcUrl: plc.url,
        flags: ['--new-hosts-per-day-limit', '1', ...flags],
      })
      pdses = [await FakePds.start(), await FakePds.start(), await FakePds.start()]
    })
    after(async () => {
      await relay.close()
      for (const p of pdses) await p.close()
      await plc.close()
    })
    const publicCrawl = (hostname: unknown) =>
      post(`${relay.url}/xrpc/com.atproto.sync.requestCrawl`, { hostname })

    test('every response carries the Server header naming the relay', async () => {
      for (const res of [
        await fetch(`${relay.url}/`),
        await fetch(`${relay.url}/xrpc/_health`),
        await fetch(`${relay.url}/nope`),
      ]) {
        assert.match(res.headers.get('server') ?? '', /atproto-relay/)
      }
    })

    test('a public request for a reachable local PDS (insecure hosts allowed) subscribes to it', async () => {
      const res = await publicCrawl(pdses[0]!.hostname)
      assert.equal(res.status, 200, await res.text())
      await eventually(() => pdses[0]!.subscriberCount === 1, 10_000, 'subscribed')
      assert.match(pdses[0]!.subscriptions[0]!.userAgent ?? '', /^atproto-relay\//)
    })

    test('asking again for a known host is fine and does not count as a new host', async () => {
      assert.equal((await publicCrawl(pdses[0]!.hostname)).status, 200)
    })

    test('the per-day new-host limit: 429 RateLimitExceeded; the admin route bypasses it', async () => {
      const res = await publicCrawl(pdses[1]!.hostname)
      assert.equal(res.status, 429)
      assert.equal(((await res.json()) as { error: string }).error, 'RateLimitExceeded')
      assert.equal((await relay.crawl(pdses[1]!.hostname)).status, 200)
    })

    for (const [name, body, status] of [
      ['an invalid hostname', { hostname: 'not a hostname!' }, 400],
      ['a hostname with a path', { hostname: 'pds.example.com/xrpc' }, 400],
      ['an IP address', { hostname: '10.0.0.1' }, 400],
      ['a missing hostname', {}, 400],
      ['a non-string hostname', { hostname: 42 }, 400],
      ['a huge hostname', { hostname: 'a'.repeat(5000) }, 400],
      ['a body that is not JSON', 'hostname=x', 400],
    ] as const) {
      test(`${name}: 400 InvalidRequest with a message`, async () => {
        const res = await post(`${relay.url}/xrpc/com.atproto.sync.requestCrawl`, body)
        assert.equal(res.status, status)
        const json = (await res.json()) as { error: string; message: string }
        assert.equal(json.error, 'InvalidRequest')
        assert.ok(json.message.length > 0)
      })
    }

    test('a host that is not reachable: 400 InvalidRequest saying so', async () => {
      const closed = await FakePds.start()
      const hostname = closed.hostname
      await closed.close()
      const res = await relay.crawl(hostname)
      assert.equal(res.status, 400)
      assert.match(((await res.json()) as { message: string }).message, /unreachable|not a PDS/)
    })

    test('admin route: no key or a wrong key → 401; Bearer and Basic admin:<key> both work', async () => {
      const url = `${relay.url}/admin/pds/requestCrawl`
      const body = { hostname: pdses[2]!.hostname }
      assert.equal((await post(url, body)).status, 401)
      assert.equal((await post(url, body, { authorization: 'Bearer wrong' })).status, 401)
      assert.equal(
        (
          await post(url, body, {
            authorization: `Basic ${Buffer.from('admin:wrong').toString('base64')}`,
          })
        ).status,
        401,
      )
      const basic = await post(url, body, {
        authorization: `Basic ${Buffer.from(`admin:${ADMIN_KEY}`).toString('base64')}`,
      })
      assert.equal(basic.status, 200)
      const answer = (await basic.json()) as Record<string, unknown>
      assert.equal(answer.success, 'true')
      assert.equal(answer.host, pdses[2]!.hostname)
      assert.match(
        String(answer.message),
        /live head: events it emitted before now are not relayed/,
      )
    })

    test('admin route with a start cursor: a new host is read from there; a known one refuses it', async () => {
      const pds = await FakePds.start()
      pdses.push(pds)
      const url = `${relay.url}/admin/pds/requestCrawl`
      const auth = { authorization: `Bearer ${ADMIN_KEY}` }
      for (const cursor of [-1, 1.5, '0', 2 ** 53]) {
        const bad = await post(url, { hostname: pds.hostname, cursor }, auth)
        assert.equal(bad.status, 400, `cursor ${cursor}`)
        assert.match(((await bad.json()) as { message: string }).message, /"cursor"/)
      }
      const res = await post(url, { hostname: pds.hostname, cursor: 0 }, auth)
      assert.equal(res.status, 200)
      const answer = (await res.json()) as Record<string, unknown>
      assert.deepEqual([answer.host, answer.cursor], [pds.hostname, 0])
      assert.match(String(answer.message), /after its seq 0/)
      await eventually(() => pds.subscriptions.length === 1, 10_000, 'subscribed')
      assert.equal(pds.subscriptions[0]!.cursor, '0', 'asked the PDS for everything it holds')
      const again = await post(url, { hostname: pds.hostname, cursor: 5 }, auth)
      assert.equal(again.status, 400)
      const refusal = (await again.json()) as { error: string; message: string }
      assert.equal(refusal.error, 'InvalidRequest')
      assert.match(refusal.message, /already followed from its own stored cursor/)
      const known = await post(url, { hostname: pds.hostname }, auth)
      assert.match(String(((await known.json()) as { message: string }).message), /already known/)
    })

    test('GET on a POST route is 405; unknown routes 404', async () => {
      assert.equal((await fetch(`${relay.url}/xrpc/com.atproto.sync.requestCrawl`)).status, 405)
      assert.equal((await fetch(`${relay.url}/xrpc/com.atproto.sync.nothing`)).status, 404)
    })
  })
}

describe('requestCrawl with public crawling disabled', () => {
  test('public requests get 403 Forbidden; the admin route still works', async () => {
    const plc = await startMockPlc({})
    const pds = await FakePds.start()
    const relay = await startTestRelay({ plcUrl: plc.url, flags: ['--disable-request-crawl'] })
    try {
      const res = await post(`${relay.url}/xrpc/com.atproto.sync.requestCrawl`, {
        hostname: pds.hostname,
      })
      assert.equal(res.status, 403)
      assert.equal(((await res.json()) as { error: string }).error, 'Forbidden')
      assert.equal((await relay.crawl(pds.hostname)).status, 200)
    } finally {
      await relay.close()
      await pds.close()
      await plc.close()
    }
  })
})

describe('the admin API with no key configured', () => {
  test('is off: 401 saying so', async () => {
    const plc = await startMockPlc({})
    const relay = await startTestRelay({ plcUrl: plc.url, adminKeys: [] })
    try {
      const res = await post(
        `${relay.url}/admin/pds/requestCrawl`,
        { hostname: 'x.example.com' },
        { authorization: 'Bearer anything' },
      )
      assert.equal(res.status, 401)
      assert.match(((await res.json()) as { message: string }).message, /disabled/)
    } finally {
      await relay.close()
      await plc.close()
    }
  })
})
