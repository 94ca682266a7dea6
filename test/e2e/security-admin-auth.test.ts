// Admin authentication as a matrix (docs/admin-api.md "Authentication"; docs/design.md §4 item 18):
// every admin route the relay builds × every kind of bad credential answers 401 Unauthorized with
// an XRPC error body, and a refused call changes nothing; the right key works with either scheme.
// The route list is not written here: it is read from the same route tables the relay serves
// (relay-admin.ts and the stats route), and cross-checked against every `/admin/` path written in
// src/, so a route added later is in the matrix without anyone remembering to add it.
// admin-routes.test.ts checks each route's answer to the common cases and key rotation; this file
// is the hostile side: malformed, truncated, smuggled and misplaced credentials, and paths that
// try to reach an admin route around the check.
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { StatsRecorder, statsRoutes } from '../../src/admin/stats.ts'
import type { Route } from '../../src/api/server.ts'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { adminRoutes } from '../../src/relay-admin.ts'
import { FakePds } from '../support/fake-pds.ts'
import { ADMIN_KEY, startTestRelay, type TestRelay } from '../support/relay-harness.ts'

const SRC = join(import.meta.dirname, '..', '..', 'src')

/**
 * An object that is anything: every property is another one, and so is every call's result.
 * Building the route tables only stores their dependencies; it never calls them, so this is
 * enough to read the tables without a relay behind them.
 */
function anything(): never {
  const target = () => {}
  const proxy: unknown = new Proxy(target, {
    get: (_t, key) => (key === 'then' ? undefined : proxy),
    apply: () => proxy,
  })
  return proxy as never
}

/** Every admin route the relay serves, read from the route tables it is built from. */
function adminRouteTable(): readonly Pick<Route, 'method' | 'path' | 'admin'>[] {
  const recorder = new StatsRecorder({ stepMs: 10_000, windowMs: 3_600_000, sources: anything() })
  const { routes, puller } = adminRoutes(anything())
  puller.stop()
  return [...routes, ...statsRoutes([recorder])]
}

/** Every `path: '/admin/...'` written in src/ outside tests: a route table not read above shows. */
function adminPathsInSource(dir: string = SRC): Set<string> {
  const found = new Set<string>()
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name)
    if (entry.isDirectory()) {
      if (entry.name !== 'public' && entry.name !== 'testing')
        for (const p of adminPathsInSource(full)) found.add(p)
    } else if (/\.ts$/.test(entry.name) && !/\.(test|bench)\.ts$/.test(entry.name)) {
      for (const m of readFileSync(full, 'utf8').matchAll(/path: '(\/admin\/[^']*)'/g))
        found.add(m[1]!)
    }
  }
  return found
}

const ROUTES = adminRouteTable()
const basic = (user: string, key: string) =>
  `Basic ${Buffer.from(`${user}:${key}`).toString('base64')}`

/**
 * Credentials that must all be refused. Each is a list of raw header lines (name, value, ...),
 * sent as they are (two Authorization lines really are two), plus a query string to add.
 * Whitespace around a header value is not part of it in HTTP (the parser drops it), so "the key
 * with a trailing space or newline" is tried where it is part of the credential: inside Basic's
 * encoded user:key.
 */
const BAD: readonly { what: string; headers: string[]; query?: string }[] = [
  { what: 'no Authorization header', headers: [] },
  { what: 'an empty Authorization header', headers: ['authorization', ''] },
  { what: 'Bearer with no key', headers: ['authorization', 'Bearer'] },
  { what: 'Bearer with a blank key', headers: ['authorization', 'Bearer    '] },
  { what: 'a wrong Bearer key', headers: ['authorization', 'Bearer wrong-key'] },
  { what: 'a prefix of the key', headers: ['authorization', `Bearer ${ADMIN_KEY.slice(0, -1)}`] },
  { what: 'the key with a suffix', headers: ['authorization', `Bearer ${ADMIN_KEY}x`] },
  {
    what: 'the key in another case',
    headers: ['authorization', `Bearer ${ADMIN_KEY.toUpperCase()}`],
  },
  { what: 'the key in quotes', headers: ['authorization', `Bearer "${ADMIN_KEY}"`] },
  { what: 'the key after a tab, not a space', headers: ['authorization', `Bearer\t${ADMIN_KEY}x`] },
  { what: 'the key alone, no scheme', headers: ['authorization', ADMIN_KEY] },
  { what: 'an unknown scheme', headers: ['authorization', `Token ${ADMIN_KEY}`] },
  { what: 'a scheme glued to the key', headers: ['authorization', `Bearer${ADMIN_KEY}`] },
  {
    what: 'Basic admin:<key> sent as Bearer',
    headers: ['authorization', `Bearer ${Buffer.from(`admin:${ADMIN_KEY}`).toString('base64')}`],
  },
  { what: 'Basic with a wrong key', headers: ['authorization', basic('admin', 'wrong-key')] },
  { what: 'Basic, right key, another user', headers: ['authorization', basic('root', ADMIN_KEY)] },
  {
    what: 'Basic, right key, user in another case',
    headers: ['authorization', basic('Admin', ADMIN_KEY)],
  },
  { what: 'Basic, right key, no user', headers: ['authorization', basic('', ADMIN_KEY)] },
  { what: 'Basic, the key as the user', headers: ['authorization', basic(ADMIN_KEY, '')] },
  {
    what: 'Basic without a colon',
    headers: ['authorization', `Basic ${Buffer.from(ADMIN_KEY).toString('base64')}`],
  },
  {
    what: 'Basic, key with a trailing space',
    headers: ['authorization', basic('admin', `${ADMIN_KEY} `)],
  },
  {
    what: 'Basic, key with a trailing newline',
    headers: ['authorization', basic('admin', `${ADMIN_KEY}\n`)],
  },
  {
    what: 'Basic, key with a trailing NUL',
    headers: ['authorization', basic('admin', `${ADMIN_KEY}\0`)],
  },
  {
    what: 'Basic, admin:<key>:<more>',
    headers: ['authorization', basic('admin', `${ADMIN_KEY}:x`)],
  },
  { what: 'Basic, the key not encoded', headers: ['authorization', `Basic admin:${ADMIN_KEY}`] },
  { what: 'Basic, malformed base64', headers: ['authorization', 'Basic !!!%%%***'] },
  { what: 'Basic, empty', headers: ['authorization', 'Basic '] },
  {
    what: 'two Authorization headers, the wrong one first',
    headers: ['authorization', 'Bearer wrong-key', 'authorization', `Bearer ${ADMIN_KEY}`],
  },
  {
    what: 'two credentials in one header',
    headers: ['authorization', `Bearer wrong-key, Bearer ${ADMIN_KEY}`],
  },
  { what: 'a very long header', headers: ['authorization', `Bearer ${ADMIN_KEY.repeat(400)}`] },
  {
    what: 'the key in Proxy-Authorization',
    headers: ['proxy-authorization', `Bearer ${ADMIN_KEY}`],
  },
  { what: 'the key in a cookie', headers: ['cookie', `admin=${ADMIN_KEY}; key=${ADMIN_KEY}`] },
  { what: 'the key in X- headers', headers: ['x-admin-key', ADMIN_KEY, 'x-api-key', ADMIN_KEY] },
  {
    what: 'the key in the query string',
    headers: [],
    query: `key=${ADMIN_KEY}&password=${ADMIN_KEY}&admin_password=${ADMIN_KEY}&authorization=${encodeURIComponent(`Bearer ${ADMIN_KEY}`)}`,
  },
  {
    what: 'a forwarded-from-sibling marker without a key',
    headers: ['x-atproto-relay-forwarded', '1'],
  },
]

const GOOD: readonly { what: string; value: string }[] = [
  { what: 'Bearer <key>', value: `Bearer ${ADMIN_KEY}` },
  { what: 'Basic admin:<key>', value: basic('admin', ADMIN_KEY) },
  { what: 'the scheme in lower case (schemes are case-insensitive)', value: `bearer ${ADMIN_KEY}` },
]

interface Answer {
  status: number
  body: string
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
after(() => agent.destroy())

/** One request with raw header lines (so duplicates are sent as such). */
function send(
  base: string,
  method: string,
  path: string,
  headers: readonly string[],
  body?: unknown,
): Promise<Answer> {
  // With raw header lines Node adds no Host header itself; HTTP/1.1 needs one.
  const lines = ['host', new URL(base).host, ...headers]
  let payload: string | undefined
  if (body !== undefined) {
    payload = JSON.stringify(body)
    lines.push(
      'content-type',
      'application/json',
      'content-length',
      String(Buffer.byteLength(payload)),
    )
  }
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, headers: lines, agent }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        text += c
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end(payload)
  })
}

function assertUnauthorized(a: Answer, what: string): void {
  assert.equal(a.status, 401, `${what}: HTTP ${a.status} ${a.body.slice(0, 200)}`)
  const json = JSON.parse(a.body) as { error?: unknown; message?: unknown }
  assert.equal(json.error, 'Unauthorized', what)
  assert.ok(typeof json.message === 'string' && json.message.length > 0, what)
  assert.ok(!a.body.includes(ADMIN_KEY), `${what}: the answer repeats the key`)
}

const withQuery = (path: string, query: string | undefined) =>
  query === undefined ? path : `${path}${path.includes('?') ? '&' : '?'}${query}`

test('the admin route table is read from the code, and it is the whole of it', () => {
  assert.ok(ROUTES.length >= 30, `only ${ROUTES.length} admin routes found`)
  for (const r of ROUTES) {
    assert.equal(r.admin, true, `${r.method} ${r.path} is not marked admin`)
    assert.match(r.path, /^\/admin\//, `${r.method} ${r.path}`)
  }
  const keys = ROUTES.map((r) => `${r.method} ${r.path}`)
  assert.equal(new Set(keys).size, keys.length, 'a route is listed twice')
  const paths = new Set(ROUTES.map((r) => r.path))
  for (const p of adminPathsInSource()) assert.ok(paths.has(p), `${p} is not in the route table`)
})

describe('admin auth matrix: every admin route × every bad credential', () => {
  let plc: MockPlc
  let relay: TestRelay
  before(async () => {
    plc = await startMockPlc({})
    relay = await startTestRelay({ plcUrl: plc.url, overrides: { metrics: false } })
  })
  after(async () => {
    await relay.close()
    await plc.close()
  })

  for (const route of ROUTES) {
    test(`${route.method} ${route.path}`, async () => {
      for (const bad of BAD) {
        const path = withQuery(route.path, bad.query)
        assertUnauthorized(await send(relay.url, route.method, path, bad.headers), bad.what)
        // HEAD is GET without a body: the same check, nothing leaks in the headers either.
        if (route.method === 'GET') {
          const head = await send(relay.url, 'HEAD', path, bad.headers)
          assert.equal(head.status, 401, `HEAD, ${bad.what}`)
        }
      }
      // The right key passes the check: whatever the route then says about the missing input,
      // it is not 401 (and the route exists: not 404 or 405).
      for (const good of GOOD) {
        const a = await send(relay.url, route.method, route.path, ['authorization', good.value])
        assert.ok(![401, 404, 405].includes(a.status), `${good.what}: HTTP ${a.status} ${a.body}`)
      }
    })
  }

  test('paths that reach an admin route some other way still need the key', async () => {
    // The URL is normalised before the route is looked up, so these are the admin route itself
    // (and refused without a key) or no route at all (404); never an admin answer for free.
    const target = '/admin/pds/list'
    const variants = [
      '/dash/../admin/pds/list',
      '/dash/%2e%2e/admin/pds/list',
      '/xrpc/../admin/pds/list',
      '/./admin/pds/list',
      '/admin/pds/./list',
      '/admin/pds/x/../list',
      '//admin/pds/list',
      '/admin//pds/list',
      '/admin/pds/list/',
      '/ADMIN/pds/list',
      '/admin/pds/List',
      '/admin/pds/list;x',
      '/admin/pds/list%00',
      '/admin/pds/list%20',
      '/admin/pds/%6cist',
      '/admin%2fpds%2flist',
      '/admin/pds/list?',
      '/admin/pds/list#x',
      'http://relay.invalid/admin/pds/list',
    ]
    for (const path of variants) {
      const a = await rawGet(relay.url, path)
      assert.ok([400, 401, 404].includes(a.status), `${path}: HTTP ${a.status} ${a.body}`)
      if (a.status === 401) assertUnauthorized(a, path)
      assert.ok(!a.body.includes('"Host"'), `${path}: answered with the host list`)
    }
    const ok = await send(relay.url, 'GET', target, ['authorization', `Bearer ${ADMIN_KEY}`])
    assert.equal(ok.status, 200)
  })
})

/** A GET whose request target is sent byte for byte (http.request does not normalise it). */
function rawGet(base: string, target: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(base, { method: 'GET', path: target, agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        text += c
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
    })
    req.on('error', reject)
    req.end()
  })
}

/**
 * Inputs that make each changing route do something: refused, they must leave no trace; accepted,
 * they must leave one (so "nothing changed" is not true merely because the inputs did nothing).
 */
function changes(host: string): { method: 'POST'; path: string; body?: unknown }[] {
  const q = encodeURIComponent
  return [
    { method: 'POST', path: '/admin/subs/setEnabled?enabled=false' },
    { method: 'POST', path: '/admin/subs/setPerDayLimit?limit=3' },
    { method: 'POST', path: '/admin/subs/banDomain', body: { Domain: 'spam.example.com' } },
    { method: 'POST', path: '/admin/pds/addTrustedDomain?domain=*.trusted.example.com' },
    { method: 'POST', path: '/admin/pds/requestCrawl', body: { hostname: host } },
    {
      method: 'POST',
      path: `/admin/pds/changeLimits`,
      body: { host, per_second: 7, repo_limit: 9 },
    },
    { method: 'POST', path: `/admin/pds/block?host=${q(host)}` },
  ]
}

describe('a refused call changes nothing', () => {
  let plc: MockPlc
  let relay: TestRelay
  let pds: FakePds
  before(async () => {
    plc = await startMockPlc({})
    pds = await FakePds.start()
    relay = await startTestRelay({ plcUrl: plc.url, overrides: { metrics: false } })
  })
  after(async () => {
    await relay.close()
    await pds.close()
    await plc.close()
  })

  /** What the admin API says about everything a change above could touch. */
  const snapshot = async () => {
    const out: Record<string, unknown> = {}
    for (const path of [
      '/admin/subs/getEnabled',
      '/admin/subs/perDayLimit',
      '/admin/subs/listDomainBans',
      '/admin/pds/trustedDomains',
      '/admin/pds/list',
      '/admin/repo/takedowns',
      '/admin/pds/pullHosts',
      '/admin/pds/resyncs',
    ]) {
      const a = await send(relay.url, 'GET', path, ['authorization', `Bearer ${ADMIN_KEY}`])
      assert.equal(a.status, 200, path)
      out[path] = JSON.parse(a.body)
    }
    const hosts = await fetch(`${relay.url}/xrpc/com.atproto.sync.listHosts`)
    out.listHosts = await hosts.json()
    out.subscribers = pds.subscriberCount
    return out
  }

  test('every bad credential, on every change: the state is as it was; the key then changes it', async () => {
    const before = await snapshot()
    for (const c of changes(pds.hostname)) {
      for (const bad of BAD) {
        const path = withQuery(c.path, bad.query)
        assertUnauthorized(
          await send(relay.url, c.method, path, bad.headers, c.body),
          `${c.path}, ${bad.what}`,
        )
      }
    }
    assert.deepEqual(await snapshot(), before)
    // The same calls with the key do change what the snapshot shows, one after the other.
    let previous = before
    for (const c of changes(pds.hostname)) {
      const a = await send(
        relay.url,
        c.method,
        c.path,
        ['authorization', `Bearer ${ADMIN_KEY}`],
        c.body,
      )
      assert.equal(a.status, 200, `${c.path}: ${a.body}`)
      const now = await snapshot()
      assert.notDeepEqual(now, previous, `${c.path} with the key changed nothing visible`)
      previous = now
    }
  })
})

describe('with no admin key configured, the admin API is off', () => {
  let plc: MockPlc
  let relay: TestRelay
  before(async () => {
    plc = await startMockPlc({})
    relay = await startTestRelay({ plcUrl: plc.url, adminKeys: [], overrides: { metrics: false } })
  })
  after(async () => {
    await relay.close()
    await plc.close()
  })

  test('every admin route refuses everything, the usual key and empty ones included', async () => {
    const tries = [
      [],
      ['authorization', 'Bearer'],
      ['authorization', 'Bearer '],
      ['authorization', basic('admin', '')],
      ['authorization', `Bearer ${ADMIN_KEY}`],
      ['authorization', basic('admin', ADMIN_KEY)],
    ]
    for (const route of ROUTES) {
      for (const headers of tries) {
        const a = await send(relay.url, route.method, route.path, headers)
        assertUnauthorized(a, `${route.method} ${route.path} ${headers.join(' ')}`)
        assert.match(a.body, /disabled/)
      }
    }
  })
})
