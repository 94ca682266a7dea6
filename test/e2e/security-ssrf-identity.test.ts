// SSRF through identities (docs/design.md §4 item 20): a did:web identifier naming a private,
// loopback or link-local host, in any spelling, is never fetched under production rules (no
// connection to a loopback listener, nothing asked of the PLC directory); a did:web document
// that redirects to such a place is never followed; and the PDS endpoint a DID document names
// (asked for the account's status) gets no connection when it is not public. Through the real
// relay's identity resolver, via `POST /admin/repo/refresh`, which resolves any DID it is given.
// The redirect cases run under development rules, because the first hop must reach a loopback
// test server (offline, the only servers are on loopback); the redirect handling is the same
// code in both modes.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { call } from '../support/admin-client.ts'
import { testDidDocument } from '../support/did-doc.ts'
import { startTestRelay, type TestRelay } from '../support/relay-harness.ts'
import { Listener, type RedirectStage, redirectStage } from '../support/ssrf.ts'

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
  let stage: RedirectStage
  let relay: TestRelay
  let first: Listener
  let target: Listener
  before(async () => {
    stage = await redirectStage()
    ;({ relay, first, target } = stage)
  })
  after(() => stage.close())

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
