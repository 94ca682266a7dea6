import assert from 'node:assert/strict'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import type { LookupAll } from './address.ts'
import type { HostProbeFailure } from './errors.ts'
import { HostProbeError } from './errors.ts'
import type { ProbeOptions } from './probe.ts'
import { probeHost } from './probe.ts'

const DID = 'did:web:pds.example.com'
const UA = 'atproto-relay-test/0.0 (+mailto:ops@example.com)'
const DESCRIBE = '/xrpc/com.atproto.server.describeServer'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

/** A loopback server whose answer each test sets, recording requests and connections. */
class TestPds {
  readonly server: Server
  handler: Handler = (_req, res) => res.end()
  readonly requests: { url: string; method: string; userAgent: string | undefined }[] = []
  connections = 0

  constructor() {
    this.server = createServer((req, res) => {
      this.requests.push({
        url: req.url ?? '',
        method: req.method ?? '',
        userAgent: req.headers['user-agent'],
      })
      this.handler(req, res)
    })
    this.server.on('connection', () => {
      this.connections++
    })
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
  }

  get hostname(): string {
    return `localhost:${(this.server.address() as AddressInfo).port}`
  }

  reset(handler: Handler): void {
    this.handler = handler
    this.requests.length = 0
    this.connections = 0
  }

  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

function json(res: ServerResponse, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(200, { 'content-type': 'application/json', ...headers })
  res.end(JSON.stringify(body))
}

async function probeFails(
  pds: TestPds,
  reason: HostProbeFailure,
  opts: Partial<ProbeOptions> = {},
): Promise<HostProbeError> {
  let caught: unknown
  try {
    await probeHost(
      { hostname: pds.hostname, ssl: false },
      { userAgent: UA, allowInsecure: true, ...opts },
    )
  } catch (err) {
    caught = err
  }
  assert.ok(caught instanceof HostProbeError, `expected HostProbeError, got ${String(caught)}`)
  assert.equal(caught.reason, reason, caught.message)
  assert.match(caught.message, /^host unreachable or not a PDS: /)
  return caught
}

describe('probeHost against a loopback server (allowInsecure, localhost)', () => {
  const pds = new TestPds()
  before(() => pds.start())
  after(() => pds.close())

  it('returns what a valid describeServer says, asked with the User-Agent', async () => {
    pds.reset((_req, res) =>
      json(res, { did: DID, availableUserDomains: ['.example.com'], inviteCodeRequired: false }),
    )
    const info = await probeHost(
      { hostname: pds.hostname, ssl: false },
      { userAgent: UA, allowInsecure: true },
    )
    assert.deepEqual(info, { did: DID, availableUserDomains: ['.example.com'] })
    assert.deepEqual(pds.requests, [{ url: DESCRIBE, method: 'GET', userAgent: UA }])
  })

  it('is lenient about missing or malformed optional fields', async () => {
    pds.reset((_req, res) => json(res, { did: 'not a did', availableUserDomains: ['.a.com', 7] }))
    const info = await probeHost(
      { hostname: pds.hostname, ssl: false },
      { userAgent: UA, allowInsecure: true },
    )
    assert.deepEqual(info, { availableUserDomains: ['.a.com'] })
    pds.reset((_req, res) => json(res, {}))
    assert.deepEqual(
      await probeHost(
        { hostname: pds.hostname, ssl: false },
        { userAgent: UA, allowInsecure: true },
      ),
      {},
    )
  })

  it('refuses a 404', async () => {
    pds.reset((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end('{"error":"MethodNotImplemented"}')
    })
    const err = await probeFails(pds, 'not-a-pds')
    assert.equal(err.status, 404)
  })

  it('refuses a body that is not JSON, or JSON that is not an object', async () => {
    pds.reset((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' })
      res.end('<html>hello</html>')
    })
    await probeFails(pds, 'not-a-pds')
    pds.reset((_req, res) => json(res, [DID]))
    await probeFails(pds, 'not-a-pds')
    pds.reset((_req, res) => {
      res.writeHead(200)
      res.end(Buffer.from([0x7b, 0xff, 0x7d]))
    })
    await probeFails(pds, 'not-a-pds')
  })

  it('refuses an oversize answer, declared or streamed', async () => {
    const big = JSON.stringify({ did: DID, availableUserDomains: ['x'.repeat(100_000)] })
    pds.reset((_req, res) => {
      res.writeHead(200, { 'content-length': String(Buffer.byteLength(big)) })
      res.end(big)
    })
    await probeFails(pds, 'too-large')
    pds.reset((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }) // chunked, no length
      for (let i = 0; i < big.length; i += 8192) res.write(big.slice(i, i + 8192))
      res.end()
    })
    await probeFails(pds, 'too-large')
    pds.reset((_req, res) => json(res, { did: DID }))
    await probeFails(pds, 'too-large', { maxBytes: 10 })
  })

  it('gives up on a host that does not answer in time', async () => {
    pds.reset(() => {}) // never answers
    await probeFails(pds, 'timeout', { timeoutMs: 200 })
    pds.reset((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"did":') // headers, then a body that never ends
    })
    await probeFails(pds, 'timeout', { timeoutMs: 200 })
  })

  it('refuses a relay (Server: atproto-relay), whatever it answers', async () => {
    pds.reset((_req, res) => json(res, { did: DID }, { server: 'Atproto-Relay/1.2 (indigo)' }))
    const err = await probeFails(pds, 'is-a-relay')
    assert.match(err.message, /relay/)
    pds.reset((_req, res) => {
      res.writeHead(404, { server: 'atproto-relay' })
      res.end()
    })
    await probeFails(pds, 'is-a-relay')
  })

  it('does not follow redirects', async () => {
    pds.reset((req, res) => {
      if (req.url === DESCRIBE) {
        res.writeHead(302, { location: '/elsewhere' })
        res.end()
      } else {
        json(res, { did: DID })
      }
    })
    const err = await probeFails(pds, 'not-a-pds')
    assert.equal(err.status, 302)
    assert.deepEqual(
      pds.requests.map((r) => r.url),
      [DESCRIBE],
    )
  })

  it('reports a closed port as unreachable', async () => {
    const gone = new TestPds()
    await gone.start()
    const hostname = gone.hostname
    await gone.close()
    await assert.rejects(
      probeHost({ hostname, ssl: false }, { userAgent: UA, allowInsecure: true }),
      (err: unknown) => err instanceof HostProbeError && err.reason === 'unreachable',
    )
  })

  it("rejects with the caller's abort reason, not a HostProbeError", async () => {
    pds.reset(() => {})
    const controller = new AbortController()
    const reason = new Error('shutting down')
    const probe = probeHost(
      { hostname: pds.hostname, ssl: false },
      { userAgent: UA, allowInsecure: true, signal: controller.signal },
    )
    await waitFor(() => pds.requests.length === 1)
    controller.abort(reason)
    await assert.rejects(probe, (err: unknown) => err === reason)
  })
})

describe('probeHost SSRF checks', () => {
  const pds = new TestPds()
  before(() => pds.start())
  after(() => pds.close())

  it('refuses a loopback host without allowInsecure, before any connection', async () => {
    pds.reset((_req, res) => json(res, { did: DID }))
    const err = await probeFails(pds, 'unsafe-address', { allowInsecure: false })
    assert.doesNotMatch(err.message, /127\.0\.0\.1/)
    assert.equal(pds.connections, 0)
    assert.equal(pds.requests.length, 0)
  })

  it('refuses a public-looking name that resolves to a private address', async () => {
    pds.reset((_req, res) => json(res, { did: DID }))
    const lookup: LookupAll = async () => [{ address: '127.0.0.1', family: 4 }]
    for (const allowInsecure of [false, true]) {
      await assert.rejects(
        probeHost(
          { hostname: 'pds.example.com', ssl: true },
          { userAgent: UA, allowInsecure, lookup },
        ),
        (err: unknown) => err instanceof HostProbeError && err.reason === 'unsafe-address',
      )
    }
    assert.equal(pds.connections, 0)
  })

  it('reports a name that does not resolve as unreachable', async () => {
    const lookup: LookupAll = async (hostname) => {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' })
    }
    await assert.rejects(
      probeHost(
        { hostname: 'nx.example.com', ssl: true },
        { userAgent: UA, allowInsecure: false, lookup },
      ),
      (err: unknown) => err instanceof HostProbeError && err.reason === 'unreachable',
    )
  })
})

describe('probeHost with an injected fetch', () => {
  const lookup: LookupAll = async () => [{ address: '93.184.216.34', family: 4 }]

  it('checks addresses first, then asks describeServer over https without redirects', async () => {
    const seen: { url: string; init: RequestInit | undefined }[] = []
    const fetch: typeof globalThis.fetch = async (input, init) => {
      seen.push({ url: String(input), init })
      return Response.json({ did: DID, availableUserDomains: [] })
    }
    const info = await probeHost(
      { hostname: 'pds.example.com', ssl: true },
      { userAgent: UA, allowInsecure: false, fetch, lookup },
    )
    assert.deepEqual(info, { did: DID, availableUserDomains: [] })
    assert.equal(seen.length, 1)
    assert.equal(seen[0]?.url, `https://pds.example.com${DESCRIBE}`)
    assert.equal(seen[0]?.init?.redirect, 'manual')
    assert.equal(new Headers(seen[0]?.init?.headers).get('user-agent'), UA)
  })

  it('applies the same answer rules', async () => {
    const cases: [Response, HostProbeFailure][] = [
      [Response.json({ did: DID }, { headers: { server: 'atproto-relay' } }), 'is-a-relay'],
      [new Response(null, { status: 301, headers: { location: '/x' } }), 'not-a-pds'],
      [new Response('x'.repeat(70_000)), 'too-large'],
      [new Response('nope'), 'not-a-pds'],
    ]
    for (const [response, reason] of cases) {
      await assert.rejects(
        probeHost(
          { hostname: 'pds.example.com', ssl: true },
          { userAgent: UA, allowInsecure: false, fetch: async () => response, lookup },
        ),
        (err: unknown) => err instanceof HostProbeError && err.reason === reason,
      )
    }
  })

  it('never calls fetch for a host with a private address', async () => {
    let called = false
    const fetch: typeof globalThis.fetch = async () => {
      called = true
      return Response.json({ did: DID })
    }
    const privateLookup: LookupAll = async () => [{ address: '10.1.2.3', family: 4 }]
    await assert.rejects(
      probeHost(
        { hostname: 'pds.example.com', ssl: true },
        { userAgent: UA, allowInsecure: false, fetch, lookup: privateLookup },
      ),
      (err: unknown) => err instanceof HostProbeError && err.reason === 'unsafe-address',
    )
    assert.equal(called, false)
  })
})

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
