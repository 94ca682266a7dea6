// The admin API as a whole over real HTTP (docs/admin-api.md; docs/design.md §4 item 18): authentication of
// every admin route (no key, wrong key, Bearer, Basic admin:<key>, Basic with another user, two
// keys for rotation), pullHosts against a second relay (progress, one pull at a time, failures,
// bad input), and forwarding of changes to a sibling relay without loops. The routes' own
// behaviour is in admin-hosts.test.ts and admin-repos.test.ts.
import assert from 'node:assert/strict'
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { FakePds } from '../support/fake-pds.ts'
import { ADMIN_KEY, eventually, startTestRelay, type TestRelay } from '../support/relay-harness.ts'

const SECOND_KEY = 'rotated-admin-key'
const basic = (user: string, key: string) =>
  `Basic ${Buffer.from(`${user}:${key}`).toString('base64')}`

/** Every admin route built, and what an authenticated call without any input answers. */
const ROUTES: readonly { method: 'GET' | 'POST'; path: string; bare: number }[] = [
  { method: 'GET', path: '/admin/subs/getUpstreamConns', bare: 200 },
  { method: 'GET', path: '/admin/subs/perDayLimit', bare: 200 },
  { method: 'POST', path: '/admin/subs/setPerDayLimit', bare: 400 },
  { method: 'POST', path: '/admin/subs/setEnabled', bare: 400 },
  { method: 'GET', path: '/admin/subs/getEnabled', bare: 200 },
  { method: 'POST', path: '/admin/subs/killUpstream', bare: 400 },
  { method: 'GET', path: '/admin/subs/listDomainBans', bare: 200 },
  { method: 'POST', path: '/admin/subs/banDomain', bare: 400 },
  { method: 'POST', path: '/admin/subs/unbanDomain', bare: 400 },
  { method: 'POST', path: '/admin/repo/takeDown', bare: 400 },
  { method: 'POST', path: '/admin/repo/reverseTakedown', bare: 400 },
  { method: 'GET', path: '/admin/repo/takedowns', bare: 200 },
  { method: 'GET', path: '/admin/repo/status', bare: 400 },
  { method: 'POST', path: '/admin/repo/refresh', bare: 400 },
  { method: 'POST', path: '/admin/pds/requestCrawl', bare: 400 },
  { method: 'GET', path: '/admin/pds/list', bare: 200 },
  { method: 'POST', path: '/admin/pds/changeLimits', bare: 400 },
  { method: 'POST', path: '/admin/pds/block', bare: 400 },
  { method: 'POST', path: '/admin/pds/unblock', bare: 400 },
  { method: 'POST', path: '/admin/pds/addTrustedDomain', bare: 400 },
  { method: 'POST', path: '/admin/pds/removeTrustedDomain', bare: 400 },
  { method: 'GET', path: '/admin/pds/trustedDomains', bare: 200 },
  { method: 'POST', path: '/admin/pds/resetCursor', bare: 400 },
  { method: 'POST', path: '/admin/pds/pullHosts', bare: 400 },
  { method: 'GET', path: '/admin/pds/pullHosts', bare: 200 },
  { method: 'GET', path: '/admin/consumers/list', bare: 200 },
]

async function call(
  base: string,
  method: 'GET' | 'POST',
  path: string,
  opts: { body?: unknown; authorization?: string | null } = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = {}
  const auth = opts.authorization === undefined ? `Bearer ${ADMIN_KEY}` : opts.authorization
  if (auth !== null) headers.authorization = auth
  let body: string | undefined
  if (opts.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(opts.body)
  }
  const res = await fetch(`${base}${path}`, { method, headers, body })
  return { status: res.status, json: (await res.json()) as Record<string, unknown> }
}

describe('admin authentication, on every admin route', () => {
  let plc: MockPlc
  let relay: TestRelay
  before(async () => {
    plc = await startMockPlc({})
    relay = await startTestRelay({ plcUrl: plc.url, adminKeys: [ADMIN_KEY, SECOND_KEY] })
  })
  after(async () => {
    await relay.close()
    await plc.close()
  })

  for (const route of ROUTES) {
    test(`${route.method} ${route.path}`, async () => {
      const refused: [string, string | null][] = [
        ['no key', null],
        ['wrong Bearer key', 'Bearer wrong-key'],
        ['empty Bearer', 'Bearer '],
        ['wrong Basic key', basic('admin', 'wrong-key')],
        ['Basic with another user', basic('other', ADMIN_KEY)],
        ['Basic without a user', basic('', ADMIN_KEY)],
        ['Basic without a colon', `Basic ${Buffer.from(ADMIN_KEY).toString('base64')}`],
        ['an unknown scheme', `Token ${ADMIN_KEY}`],
        ['the key alone', ADMIN_KEY],
      ]
      for (const [what, authorization] of refused) {
        const r = await call(relay.url, route.method, route.path, { authorization })
        assert.equal(r.status, 401, what)
        assert.equal(r.json.error, 'Unauthorized', what)
      }
      // Both keys (rotation), with either scheme.
      for (const key of [ADMIN_KEY, SECOND_KEY]) {
        for (const authorization of [`Bearer ${key}`, basic('admin', key)]) {
          const r = await call(relay.url, route.method, route.path, { authorization })
          assert.equal(r.status, route.bare, `${authorization}: ${JSON.stringify(r.json)}`)
        }
      }
    })
  }

  test('a refused call changes nothing', async () => {
    for (const authorization of [null, 'Bearer wrong-key', basic('other', ADMIN_KEY)]) {
      const off = await call(relay.url, 'POST', '/admin/subs/setEnabled?enabled=false', {
        authorization,
      })
      assert.equal(off.status, 401)
      const ban = await call(relay.url, 'POST', '/admin/subs/banDomain', {
        body: { Domain: 'example.com' },
        authorization,
      })
      assert.equal(ban.status, 401)
    }
    assert.equal((await call(relay.url, 'GET', '/admin/subs/getEnabled')).json.enabled, true)
    assert.deepEqual((await call(relay.url, 'GET', '/admin/subs/listDomainBans')).json, {
      banned_domains: [],
    })
  })
})

/** A stand-in relay whose `listHosts` answers only when told to, or fails. */
async function startHeldListHosts() {
  const waiting: ServerResponse[] = []
  let arrived: () => void = () => {}
  let failing = false
  const server = createServer((req, res) => {
    if (!req.url?.startsWith('/xrpc/com.atproto.sync.listHosts')) return res.writeHead(404).end()
    if (failing) {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{}')
      return
    }
    waiting.push(res)
    arrived()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    /** Resolves once a listHosts request is being held. */
    held: () =>
      new Promise<void>((resolve) => {
        if (waiting.length > 0) return resolve()
        arrived = resolve
      }),
    release: () => {
      for (const res of waiting.splice(0))
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"hosts":[]}')
    },
    failFromNowOn: () => {
      failing = true
    },
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

describe('pullHosts', () => {
  let plc: MockPlc
  let source: TestRelay
  let target: TestRelay
  let p1: FakePds
  let p2: FakePds
  before(async () => {
    plc = await startMockPlc({})
    p1 = await FakePds.start()
    p2 = await FakePds.start()
    source = await startTestRelay({ plcUrl: plc.url })
    target = await startTestRelay({ plcUrl: plc.url })
    for (const p of [p1, p2]) assert.equal((await source.crawl(p.hostname)).status, 200)
    assert.equal((await target.crawl(p1.hostname)).status, 200)
  })
  after(async () => {
    await target.close()
    await source.close()
    await p1.close()
    await p2.close()
    await plc.close()
  })
  const progress = async () => (await call(target.url, 'GET', '/admin/pds/pullHosts')).json
  const pull = (body?: unknown) => call(target.url, 'POST', '/admin/pds/pullHosts', { body })

  test('GET before any pull: idle', async () => {
    assert.deepEqual(await progress(), {
      status: 'idle',
      from: null,
      pages: 0,
      hostsListed: 0,
      added: 0,
      known: 0,
      failed: 0,
      startedAt: null,
      finishedAt: null,
      lastError: null,
    })
  })

  test('POST adds the hosts the other relay lists (listHosts), in the background', async () => {
    const r = await pull({ from: `${source.url}/some/path` })
    assert.deepEqual([r.status, r.json], [200, { success: 'true' }])
    await eventually(async () => (await progress()).status !== 'running', 10_000, 'pull done')
    const p = await progress()
    assert.deepEqual(
      [p.status, p.from, p.hostsListed, p.added, p.known, p.failed, p.lastError],
      ['done', source.url, 2, 1, 1, 0, null],
    )
    assert.ok((p.pages as number) >= 1)
    for (const t of [p.startedAt, p.finishedAt]) assert.ok(!Number.isNaN(Date.parse(String(t))))
    const hosts = (await call(target.url, 'GET', '/admin/pds/list')).json as unknown as {
      Host: string
    }[]
    assert.deepEqual(hosts.map((h) => h.Host).sort(), [p1.hostname, p2.hostname].sort())
    await eventually(() => p2.subscriberCount === 2, 10_000, 'target subscribed to p2')
  })

  test('a second pull while one runs: 409; a failing source: status failed', async () => {
    const held = await startHeldListHosts()
    try {
      assert.equal((await pull({ from: held.url })).status, 200)
      await held.held()
      assert.equal((await progress()).status, 'running')
      const second = await pull({ from: source.url })
      assert.deepEqual([second.status, second.json.error], [409, 'AlreadyRunning'])
      held.release()
      await eventually(async () => (await progress()).status === 'done', 10_000, 'pull done')
      assert.deepEqual([(await progress()).from, (await progress()).hostsListed], [held.url, 0])

      held.failFromNowOn()
      assert.equal((await pull({ from: held.url })).status, 200)
      await eventually(async () => (await progress()).status === 'failed', 10_000, 'failed')
      assert.match(String((await progress()).lastError), /HTTP 500/)
    } finally {
      await held.close()
    }
  })

  test('bad input: 400 InvalidRequest', async () => {
    for (const [what, body] of [
      ['no body', undefined],
      ['array', [source.url]],
      ['no from', {}],
      ['number', { from: 42 }],
      ['empty', { from: '' }],
      ['not a URL', { from: 'relay.example.com' }],
      ['not http', { from: 'ftp://relay.example.com' }],
      ['huge', { from: `https://${'a'.repeat(5000)}.example.com` }],
      ['over-long host name', { from: `https://${'abcdefghi.'.repeat(30)}example.com` }],
    ] as const) {
      const r = await pull(body)
      assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.json)}`)
      assert.equal(r.json.error, 'InvalidRequest', what)
    }
    assert.equal((await progress()).status, 'failed', 'no pull started')
  })
})

describe('forwarding to sibling relays', () => {
  let plc: MockPlc
  let first: TestRelay
  let second: TestRelay
  const spied: { path: string; headers: IncomingHttpHeaders; body: string }[] = []
  const spy = createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => {
      body += c.toString('utf8')
    })
    req.on('end', () => {
      spied.push({ path: req.url ?? '', headers: req.headers, body })
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"success":"true"}')
    })
  })
  before(async () => {
    plc = await startMockPlc({})
    await new Promise<void>((resolve) => spy.listen(0, '127.0.0.1', resolve))
    const spyUrl = `http://127.0.0.1:${(spy.address() as AddressInfo).port}`
    // second forwards to the spy: anything it forwards (it must not forward what it was sent
    // by first) shows up there.
    second = await startTestRelay({ plcUrl: plc.url, flags: ['--sibling-relays', spyUrl] })
    first = await startTestRelay({ plcUrl: plc.url, flags: ['--sibling-relays', second.url] })
  })
  after(async () => {
    await first.close()
    await second.close()
    spy.closeAllConnections()
    await new Promise<void>((resolve) => spy.close(() => resolve()))
    await plc.close()
  })
  const bans = async (r: TestRelay) =>
    (await call(r.url, 'GET', '/admin/subs/listDomainBans')).json.banned_domains

  test('a banDomain on the first relay shows up on the second, and is not forwarded back', async () => {
    const r = await call(first.url, 'POST', '/admin/subs/banDomain', {
      body: { Domain: 'spam.example.com' },
    })
    assert.equal(r.status, 200)
    await eventually(
      async () => JSON.stringify(await bans(second)) === '["spam.example.com"]',
      10_000,
      'ban on the second relay',
    )
    // A refused change and a read are not forwarded; a change made on the second relay itself is,
    // marked as forwarded and with the caller's credentials. It arriving alone shows that the
    // forwarded ban was not sent on.
    const bad = await call(second.url, 'POST', '/admin/subs/banDomain', { body: { Domain: 42 } })
    assert.equal(bad.status, 400)
    assert.equal((await call(second.url, 'GET', '/admin/subs/listDomainBans')).status, 200)
    const direct = await call(second.url, 'POST', '/admin/subs/banDomain', {
      body: { Domain: 'other.example.com' },
    })
    assert.equal(direct.status, 200)
    await eventually(() => spied.length > 0, 10_000, 'the spy got the direct change')
    assert.equal(spied.length, 1)
    const got = spied[0]!
    assert.equal(got.path, '/admin/subs/banDomain')
    assert.deepEqual(JSON.parse(got.body), { Domain: 'other.example.com' })
    assert.equal(got.headers['x-atproto-relay-forwarded'], '1')
    assert.equal(got.headers.authorization, `Bearer ${ADMIN_KEY}`)
    assert.deepEqual(await bans(first), ['spam.example.com'])
    assert.deepEqual(await bans(second), ['other.example.com', 'spam.example.com'])
  })

  test('query-parameter changes are forwarded with their query', async () => {
    const r = await call(first.url, 'POST', '/admin/subs/setPerDayLimit?limit=9')
    assert.equal(r.status, 200)
    await eventually(
      async () => (await call(second.url, 'GET', '/admin/subs/perDayLimit')).json.limit === 9,
      10_000,
      'limit on the second relay',
    )
  })
})
