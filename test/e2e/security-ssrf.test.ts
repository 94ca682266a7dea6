// SSRF through what the public can make the relay fetch (docs/design.md §4 item 20): a public
// `com.atproto.sync.requestCrawl` naming a private, loopback, link-local or otherwise non-public
// place, in every spelling getaddrinfo or a URL parser would read as one (decimal, octal, hex,
// short IPv4, IPv4-mapped and NAT64 IPv6, brackets, zones, ports, userinfo, paths, schemes,
// trailing dots), is refused with 400 and never causes a connection: a loopback listener on the
// port those names carry counts zero connections. The same for did:web identities, and for
// redirects from a host that is reachable.
//
// Levels, and why:
// - Hostname spellings: the real relay, production rules (no --allow-insecure-hosts), over HTTP.
// - Names that resolve to non-public addresses: the real relay and the real describeServer probe,
//   with only its DNS lookup replaced (a test cannot make a public name resolve to 127.0.0.1
//   offline; the probe takes a lookup for this).
// - Redirects: the real relay in development mode (--allow-insecure-hosts), because the first hop
//   must reach a test server and offline the only servers are on loopback, which production rules
//   refuse before any connection. The redirect handling is the same code in both modes (the probe
//   never follows one; the did:web fetch checks every hop with the same host check).
// - did:web: the real relay's identity resolver, through `POST /admin/repo/refresh`, which
//   resolves any DID it is given.
import assert from 'node:assert/strict'
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { LookupAll } from '../../src/hosts/address.ts'
import { probeHost } from '../../src/hosts/probe.ts'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { call } from '../support/admin-client.ts'
import { testDidDocument } from '../support/did-doc.ts'
import { startTestRelay, type TestRelay } from '../support/relay-harness.ts'

/** A loopback server that counts every connection and request it gets (127.0.0.1 and ::1). */
class Listener {
  readonly #servers: Server[] = []
  connections = 0
  readonly requests: string[] = []
  port = 0
  handler: (path: string, res: ServerResponse) => void = (_p, res) => res.writeHead(404).end()

  static async start(): Promise<Listener> {
    const l = new Listener()
    const make = () => {
      const s = createServer((req, res) => {
        l.requests.push(req.url ?? '')
        l.handler(req.url ?? '', res)
      })
      s.on('connection', () => {
        l.connections++
      })
      l.#servers.push(s)
      return s
    }
    const v4 = make()
    await new Promise<void>((resolve) => v4.listen(0, '127.0.0.1', resolve))
    l.port = (v4.address() as AddressInfo).port
    // The same port on ::1 too, when the machine has IPv6 loopback, so [::1]:PORT is counted.
    const v6 = make()
    await new Promise<void>((resolve) => {
      v6.once('error', () => resolve())
      v6.listen(l.port, '::1', resolve)
    })
    return l
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  async close(): Promise<void> {
    for (const s of this.#servers) {
      s.closeAllConnections()
      if (s.listening) await new Promise<void>((resolve) => s.close(() => resolve()))
    }
  }
}

const publicCrawl = async (relay: TestRelay, hostname: string) => {
  const res = await fetch(`${relay.url}/xrpc/com.atproto.sync.requestCrawl`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hostname }),
  })
  return { status: res.status, json: (await res.json()) as { error?: string; message?: string } }
}

const listHosts = async (relay: TestRelay) =>
  (
    (await (await fetch(`${relay.url}/xrpc/com.atproto.sync.listHosts`)).json()) as {
      hosts: unknown[]
    }
  ).hosts

/** Host names for the non-public places, `P` standing for the listener's port. */
const SSRF_NAMES: readonly string[] = [
  // loopback by name
  'localhost',
  'localhost:P',
  'LOCALHOST:P',
  'localhost.',
  'localhost.:P',
  'pds.localhost',
  'pds.localhost:P',
  // IPv4 loopback, in every form getaddrinfo or a URL parser reads as 127.0.0.1
  '127.0.0.1',
  '127.0.0.1:P',
  '127.0.0.1.',
  '127.0.0.1.:P',
  '127.1',
  '127.1:P',
  '127.0.1',
  '2130706433',
  '2130706433:P',
  '0177.0.0.1',
  '0177.0.0.1:P',
  '0x7f.0.0.1',
  '0x7f.0.0.1:P',
  '0x7f000001',
  '0x7f.1',
  '017700000001',
  '127.000.000.001',
  '127.0.0.1:80',
  '127.0.0.1:443',
  // IPv6 loopback, IPv4-mapped, IPv4-compatible and NAT64 forms
  '[::1]',
  '[::1]:P',
  '::1',
  '[0:0:0:0:0:0:0:1]:P',
  '[::ffff:127.0.0.1]',
  '[::ffff:127.0.0.1]:P',
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '[::ffff:7f00:1]:P',
  '[::127.0.0.1]:P',
  '[64:ff9b::7f00:1]',
  '[::]',
  '[::1%25lo]:P',
  // private, shared, link-local (cloud metadata), unspecified
  '10.0.0.1',
  '172.16.0.1',
  '192.168.1.1',
  '169.254.169.254',
  '169.254.169.254:80',
  '100.64.0.1',
  '0.0.0.0',
  '0.0.0.0:P',
  '0',
  '0:P',
  'fc00::1',
  '[fc00::1]',
  'fe80::1',
  '[fe80::1]',
  '[fe80::1%25eth0]',
  // internal names
  'metadata.google.internal',
  'metadata',
  'instance-data',
  'printer.local',
  'pds.test',
  'relay.internal',
  'pds.example.com:P',
  // userinfo, paths, queries, fragments, schemes: the authority is the loopback listener
  'user@127.0.0.1',
  'user@127.0.0.1:P',
  'pds.example.com@127.0.0.1:P',
  'admin:pw@localhost:P',
  '127.0.0.1:P/x',
  '127.0.0.1:P/xrpc/com.atproto.server.describeServer',
  'pds.example.com/@127.0.0.1:P',
  'pds.example.com#@127.0.0.1:P',
  'pds.example.com?@127.0.0.1:P',
  'pds.example.com\\@127.0.0.1:P',
  'http://127.0.0.1:P',
  'http://localhost:P/',
  'https://127.0.0.1',
  'ws://localhost:P',
  'wss://[::1]:P',
  'ftp://127.0.0.1:P',
  'file:///etc/passwd',
  '//127.0.0.1:P',
  ' localhost:P ',
  'localhost:P\n',
  // look-alikes a lenient parser might map to ASCII
  '127。0。0。1',
  '１２７.0.0.1',
  'ⓛocalhost:P',
]

describe('public requestCrawl, production rules: non-public names', () => {
  let plc: MockPlc
  let relay: TestRelay
  let listener: Listener
  before(async () => {
    plc = await startMockPlc({})
    listener = await Listener.start()
    relay = await startTestRelay({
      plcUrl: plc.url,
      insecureHosts: false,
      overrides: { metrics: false },
    })
  })
  after(async () => {
    await relay.close()
    await listener.close()
    await plc.close()
  })

  test(`${SSRF_NAMES.length} names: each refused with 400, none connects`, async () => {
    assert.ok(SSRF_NAMES.length >= 35)
    for (const template of SSRF_NAMES) {
      const name = template.replaceAll('P', String(listener.port))
      const r = await publicCrawl(relay, name)
      assert.equal(r.status, 400, `${JSON.stringify(name)}: ${JSON.stringify(r.json)}`)
      assert.equal(r.json.error, 'InvalidRequest', name)
      assert.ok((r.json.message ?? '').length > 0, name)
    }
    assert.equal(listener.connections, 0, `connected: ${listener.requests.join(', ')}`)
    assert.deepEqual(await listHosts(relay), [])
  })

  test('IP addresses are refused even to an operator (who may name localhost:PORT)', async () => {
    for (const template of [
      '127.0.0.1:P',
      '2130706433:P',
      '0x7f.1:P',
      '[::1]:P',
      '169.254.169.254',
    ]) {
      const name = template.replaceAll('P', String(listener.port))
      const r = await call(relay.url, 'POST', '/admin/pds/requestCrawl', {
        body: { hostname: name },
      })
      assert.equal(r.status, 400, `${name}: ${JSON.stringify(r.json)}`)
    }
    assert.equal(listener.connections, 0)
    // The control: the listener does see the relay when it is meant to reach it (an operator
    // may name localhost:PORT), so the zero counts above are real.
    const ok = await call(relay.url, 'POST', '/admin/pds/requestCrawl', {
      body: { hostname: `localhost:${listener.port}` },
    })
    assert.equal(ok.status, 400, 'the listener is no PDS')
    assert.equal(listener.connections, 1)
  })
})

describe('public requestCrawl, production rules: names that resolve to non-public addresses', () => {
  // The probe is the relay's own; only DNS is replaced, and it answers for these names alone.
  const DNS: Readonly<Record<string, readonly string[]>> = {
    'loopback.example.com': ['127.0.0.1'],
    'loopback6.example.com': ['::1'],
    'mapped.example.com': ['::ffff:127.0.0.1'],
    'mapped-hex.example.com': ['::ffff:7f00:1'],
    'nat64.example.com': ['64:ff9b::a9fe:a9fe'],
    'sixtofour.example.com': ['2002:7f00:1::1'],
    'metadata.example.com': ['169.254.169.254'],
    'private.example.com': ['10.1.2.3'],
    'private172.example.com': ['172.31.255.255'],
    'private192.example.com': ['192.168.0.10'],
    'cgnat.example.com': ['100.64.1.1'],
    'zero.example.com': ['0.0.0.0'],
    'ula.example.com': ['fd12:3456::1'],
    'linklocal6.example.com': ['fe80::1'],
    'multicast.example.com': ['224.0.0.1'],
    'broadcast.example.com': ['255.255.255.255'],
    'mixed.example.com': ['8.8.8.8', '10.0.0.1'],
    'mixed6.example.com': ['2606:4700::1111', '::1'],
  }
  const asked: string[] = []
  const lookup: LookupAll = async (hostname) => {
    asked.push(hostname)
    const found = DNS[hostname]
    if (!found) throw Object.assign(new Error(`no such name ${hostname}`), { code: 'ENOTFOUND' })
    return found.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
  }
  let plc: MockPlc
  let relay: TestRelay
  before(async () => {
    plc = await startMockPlc({})
    relay = await startTestRelay({
      plcUrl: plc.url,
      insecureHosts: false,
      overrides: {
        metrics: false,
        probe: (target, allowInsecure) =>
          probeHost(target, { userAgent: 'security-test', allowInsecure, lookup }),
      },
    })
  })
  after(async () => {
    await relay.close()
    await plc.close()
  })

  test(`${Object.keys(DNS).length} names: refused as non-public before connecting`, async () => {
    for (const name of Object.keys(DNS)) {
      const r = await publicCrawl(relay, name)
      assert.equal(r.status, 400, `${name}: ${JSON.stringify(r.json)}`)
      // "resolves to a non-public address" is said before any connection is tried; a connection
      // attempt would end as "could not connect" or a timeout instead.
      assert.match(r.json.message ?? '', /non-public address/, name)
    }
    assert.deepEqual(asked, Object.keys(DNS))
    assert.deepEqual(await listHosts(relay), [])
  })
})

describe('public requestCrawl: a describeServer that redirects is not followed', () => {
  let plc: MockPlc
  let relay: TestRelay
  let first: Listener
  let target: Listener
  before(async () => {
    plc = await startMockPlc({})
    first = await Listener.start()
    target = await Listener.start()
    relay = await startTestRelay({ plcUrl: plc.url, overrides: { metrics: false } })
  })
  after(async () => {
    await relay.close()
    await first.close()
    await target.close()
    await plc.close()
  })

  test('30x to private, loopback, metadata or even allowed places: 400, no second hop', async () => {
    const T = target.port
    const describe = '/xrpc/com.atproto.server.describeServer'
    const locations = [
      `http://127.0.0.1:${T}${describe}`,
      `http://[::1]:${T}${describe}`,
      `http://[::ffff:127.0.0.1]:${T}${describe}`,
      `http://2130706433:${T}${describe}`,
      `http://0x7f.1:${T}${describe}`,
      `http://localhost:${T}${describe}`,
      `http://169.254.169.254/latest/meta-data/`,
      `http://10.0.0.1${describe}`,
      `//127.0.0.1:${T}${describe}`,
      `/elsewhere`,
    ]
    for (const status of [301, 302, 303, 307, 308]) {
      for (const location of locations) {
        first.handler = (_path, res) => res.writeHead(status, { location }).end()
        const r = await publicCrawl(relay, `localhost:${first.port}`)
        assert.equal(r.status, 400, `${status} → ${location}: ${JSON.stringify(r.json)}`)
        assert.match(r.json.message ?? '', /redirect/, `${status} → ${location}`)
      }
    }
    assert.equal(first.requests.length, 5 * locations.length, 'one describeServer per request')
    assert.ok(first.requests.every((p) => p === describe))
    assert.equal(target.connections, 0, `followed: ${target.requests.join(', ')}`)
    assert.deepEqual(await listHosts(relay), [])
  })
})

/** What `POST /admin/repo/refresh` says the identity of `did` is (null: not resolved). */
async function refreshIdentity(relay: TestRelay, did: string): Promise<unknown> {
  const r = await call(relay.url, 'POST', `/admin/repo/refresh?did=${encodeURIComponent(did)}`)
  assert.equal(r.status, 200, `${did}: ${JSON.stringify(r.json)}`)
  return (r.json as { identity: unknown }).identity
}

describe('did:web identities, production rules: non-public hosts are never fetched', () => {
  let plc: MockPlc
  let relay: TestRelay
  let listener: Listener
  before(async () => {
    plc = await startMockPlc({})
    listener = await Listener.start()
    listener.handler = (_p, res) => res.writeHead(500).end()
    relay = await startTestRelay({
      plcUrl: plc.url,
      insecureHosts: false,
      overrides: { metrics: false },
    })
  })
  after(async () => {
    await relay.close()
    await listener.close()
    await plc.close()
  })

  test('loopback, private, link-local, numeric and mapped did:web hosts: not resolved, no connection', async () => {
    const P = listener.port
    const dids = [
      `did:web:127.0.0.1`,
      `did:web:127.0.0.1%3A${P}`,
      `did:web:localhost`,
      `did:web:localhost%3A${P}`,
      `did:web:LOCALHOST%3A${P}`,
      `did:web:pds.localhost`,
      `did:web:pds.localhost%3A${P}`,
      `did:web:127.1%3A${P}`,
      `did:web:2130706433%3A${P}`,
      `did:web:0177.0.0.1%3A${P}`,
      `did:web:0x7f.0.0.1%3A${P}`,
      `did:web:%5B%3A%3A1%5D%3A${P}`,
      `did:web:%5B%3A%3Affff%3A127.0.0.1%5D%3A${P}`,
      `did:web:%3A%3Affff%3A7f00%3A1`,
      `did:web:169.254.169.254`,
      `did:web:10.0.0.1`,
      `did:web:192.168.1.1`,
      `did:web:0.0.0.0%3A${P}`,
      `did:web:metadata.google.internal`,
      `did:web:printer.local`,
      `did:web:user%40127.0.0.1%3A${P}`,
      `did:web:example.com%3A${P}`,
      `did:web:127.0.0.1%3A${P}:path:to`,
      `did:web:127.0.0.1%3A${P}%2F..%2F`,
    ]
    for (const did of dids) {
      const r = await call(relay.url, 'POST', `/admin/repo/refresh?did=${encodeURIComponent(did)}`)
      // A DID the syntax refuses is a 400; one that parses resolves to nothing (identity null).
      assert.ok(r.status === 400 || r.status === 200, `${did}: ${JSON.stringify(r.json)}`)
      if (r.status === 200) assert.equal((r.json as { identity: unknown }).identity, null, did)
    }
    assert.equal(listener.connections, 0, `connected: ${listener.requests.join(', ')}`)
    assert.equal(plc.requestCount(), 0, 'no did:web went to the PLC directory')
  })
})

describe('did:web identities, development rules: a document that redirects elsewhere', () => {
  // With --allow-insecure-hosts a did:web on localhost:PORT is fetched (local development); every
  // hop after it is checked again, and only localhost names are exempt.
  let plc: MockPlc
  let relay: TestRelay
  let first: Listener
  let target: Listener
  before(async () => {
    plc = await startMockPlc({})
    first = await Listener.start()
    target = await Listener.start()
    relay = await startTestRelay({ plcUrl: plc.url, overrides: { metrics: false } })
  })
  after(async () => {
    await relay.close()
    await first.close()
    await target.close()
    await plc.close()
  })

  test('redirects to non-public addresses are refused before connecting', async () => {
    const T = target.port
    const path = '/.well-known/did.json'
    const locations = [
      `http://127.0.0.1:${T}${path}`,
      `http://127.1:${T}${path}`,
      `http://2130706433:${T}${path}`,
      `http://0177.0.0.1:${T}${path}`,
      `http://0x7f.0.0.1:${T}${path}`,
      `http://[::1]:${T}${path}`,
      `http://[::ffff:127.0.0.1]:${T}${path}`,
      `http://[::ffff:7f00:1]:${T}${path}`,
      `http://169.254.169.254${path}`,
      `http://10.0.0.1:${T}${path}`,
      `http://user@127.0.0.1:${T}${path}`,
      `//127.0.0.1:${T}${path}`,
      `file:///etc/passwd`,
    ]
    let n = 0
    for (const status of [301, 302, 307, 308]) {
      for (const location of locations) {
        // A new DID each time, so no cached answer hides a second fetch.
        const did = `did:web:localhost%3A${first.port}`
        first.handler = (_p, res) => res.writeHead(status, { location }).end()
        assert.equal(await refreshIdentity(relay, did), null, `${status} → ${location}`)
        n++
      }
    }
    assert.equal(first.requests.length, n, 'the first hop was asked each time')
    assert.equal(target.connections, 0, `followed: ${target.requests.join(', ')}`)
    // The control: a redirect to a place development rules allow (localhost) is followed, so
    // the zero count above is the check at work, not a redirect never being followed at all.
    first.handler = (_p, res) =>
      res.writeHead(302, { location: `http://localhost:${T}${path}` }).end()
    await refreshIdentity(relay, `did:web:localhost%3A${first.port}`)
    assert.deepEqual(target.requests, [path])
  })
})

describe('the PDS endpoint a DID document names', () => {
  // `POST /admin/repo/refresh` asks the account's PDS for its status (getRepoStatus) at the
  // endpoint its DID document names, and whoever controls the document chooses that endpoint.
  // That request is held to public addresses like every other outbound request the network can
  // steer (it once was a plain fetch, and a document naming loopback got a connection there).
  const DID = 'did:plc:alicealicealicealicealic'
  let plc: MockPlc
  let relay: TestRelay
  let listener: Listener
  before(async () => {
    listener = await Listener.start()
    listener.handler = (_p, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"active":true}')
    plc = await startMockPlc({ [DID]: testDidDocument(DID, listener.url) })
    relay = await startTestRelay({
      plcUrl: plc.url,
      insecureHosts: false,
      overrides: { metrics: false },
    })
  })
  after(async () => {
    await relay.close()
    await listener.close()
    await plc.close()
  })

  test('a loopback PDS endpoint is not connected to', async () => {
    const identity = await refreshIdentity(relay, DID)
    assert.deepEqual(identity, { pds: listener.url, handle: null, hasKey: false })
    assert.equal(listener.connections, 0, `connected: ${listener.requests.join(', ')}`)
  })
})
