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
import { after, before, describe, test } from 'node:test'
import type { LookupAll } from '../../src/hosts/address.ts'
import { probeHost } from '../../src/hosts/probe.ts'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { call } from '../support/admin-client.ts'
import { startTestRelay, type TestRelay } from '../support/relay-harness.ts'
import { Listener, type RedirectStage, redirectStage, SSRF_NAMES } from '../support/ssrf.ts'

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
  let stage: RedirectStage
  let relay: TestRelay
  let first: Listener
  let target: Listener
  before(async () => {
    stage = await redirectStage()
    ;({ relay, first, target } = stage)
  })
  after(() => stage.close())

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
