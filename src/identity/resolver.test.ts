import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { DidNotFoundError, DidResolutionError } from './errors.ts'
import { DidResolver, type DidResolverOptions } from './resolver.ts'
import { startMockDidWeb } from './testing/mock-did-web.ts'
import {
  type MockPlc,
  type ScenarioIdentity,
  scenarioDidDocuments,
  scenarioIdentityToDidDocument,
  startMockPlc,
} from './testing/mock-plc.ts'

const SCENARIOS = join(import.meta.dirname, '../../test/fixtures/relay-scenarios')
const UA = 'atproto-relay-test/0.1 (+mailto:ops@example.com)'
const DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'

interface Scenario {
  accounts?: { identity: ScenarioIdentity }[]
}
const scenarios: [string, Scenario][] = readdirSync(SCENARIOS)
  .filter((f) => f.endsWith('.json'))
  .map((f) => [f, JSON.parse(readFileSync(join(SCENARIOS, f), 'utf8')) as Scenario])

const testDoc = scenarioIdentityToDidDocument({
  did: DID,
  alsoKnownAs: ['at://alice.example.com'],
  services: { atproto_pds: { type: 'AtprotoPersonalDataServer', url: 'https://pds.example.com' } },
  keys: { atproto: { type: 'Multikey', publicKeyMultibase: 'zQ3shTest' } },
})

function isResolutionError(reason: string, did = DID) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof DidResolutionError, `expected DidResolutionError, got ${String(err)}`)
    assert.equal(err.reason, reason, err.message)
    assert.equal(err.did, did)
    return true
  }
}

describe('DidResolver over loopback', () => {
  let plc: MockPlc
  let resolver: DidResolver
  const make = (extra: Partial<DidResolverOptions> = {}): DidResolver =>
    new DidResolver({ plcUrl: plc.url, userAgent: UA, timeoutMs: 2_000, ...extra })

  before(async () => {
    const docs: Record<string, object> = { [DID]: testDoc }
    for (const [, scenario] of scenarios) Object.assign(docs, scenarioDidDocuments(scenario))
    plc = await startMockPlc(docs)
    resolver = make()
  })
  after(() => plc.close())

  it('resolves every scenario identity', async () => {
    assert.ok(scenarios.length > 0, 'scenario fixtures present')
    for (const [file, scenario] of scenarios) {
      for (const { identity } of scenario.accounts ?? []) {
        const name = `${file} ${identity.did}`
        const got = await resolver.resolve(identity.did)
        assert.equal(got.did, identity.did, name)
        assert.equal(got.handle, identity.handle, `${name} handle`)
        assert.equal(got.pds, identity.services?.atproto_pds?.url, `${name} pds`)
        assert.deepEqual(got.signingKey, identity.keys?.atproto, `${name} key`)
      }
    }
  })

  it('sends the User-Agent', async () => {
    const before = plc.requests.length
    await resolver.resolve(DID)
    const sent = plc.requests.slice(before)
    assert.equal(sent.length, 1)
    assert.equal(sent[0]?.userAgent, UA)
    assert.equal(sent[0]?.did, DID)
  })

  it('404 and 410 are DidNotFoundError', async () => {
    const unknown = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'
    await assert.rejects(resolver.resolve(unknown), (err: unknown) => {
      assert.ok(err instanceof DidNotFoundError)
      assert.equal(err.reason, 'not-found')
      assert.equal(err.status, 404)
      assert.equal(err.did, unknown)
      return true
    })
    const gone = 'did:plc:bbbbbbbbbbbbbbbbbbbbbbbb'
    plc.setDocument(gone, { ...testDoc, id: gone })
    plc.tombstone(gone)
    await assert.rejects(resolver.resolve(gone), (err: unknown) => {
      assert.ok(err instanceof DidNotFoundError)
      assert.equal(err.reason, 'tombstoned')
      assert.equal(err.status, 410)
      return true
    })
  })

  it('5xx is http-status with the status', async () => {
    plc.failNext(503)
    await assert.rejects(resolver.resolve(DID), (err: unknown) => {
      isResolutionError('http-status')(err)
      assert.equal((err as DidResolutionError).status, 503)
      return true
    })
    plc.failNext(400)
    await assert.rejects(resolver.resolve(DID), isResolutionError('http-status'))
  })

  it('garbage is bad-json', async () => {
    plc.failNext('garbage')
    await assert.rejects(resolver.resolve(DID), isResolutionError('bad-json'))
  })

  it('an oversize body is too-large, streamed or declared', async () => {
    plc.failNext('oversize')
    await assert.rejects(resolver.resolve(DID), isResolutionError('too-large'))
    const big = 'did:plc:cccccccccccccccccccccccc'
    plc.setDocument(big, { ...testDoc, id: big, padding: 'x'.repeat(70_000) })
    await assert.rejects(resolver.resolve(big), isResolutionError('too-large', big))
    // A smaller cap applies to ordinary documents too.
    const tiny = make({ maxBytes: 100 })
    await assert.rejects(tiny.resolve(DID), isResolutionError('too-large'))
    // The resolver still works after aborting those bodies.
    assert.equal((await resolver.resolve(DID)).handle, 'alice.example.com')
  })

  it('a hanging directory is a timeout', async () => {
    plc.failNext('hang')
    const quick = make({ timeoutMs: 200 })
    const started = Date.now()
    await assert.rejects(quick.resolve(DID), isResolutionError('timeout'))
    assert.ok(Date.now() - started < 1_500, 'gave up near the time limit')
  })

  it("the caller's signal aborts with reason aborted", async () => {
    plc.failNext('hang')
    const controller = new AbortController()
    const pending = resolver.resolve(DID, controller.signal)
    setTimeout(() => controller.abort(), 50)
    await assert.rejects(pending, isResolutionError('aborted'))
    await assert.rejects(resolver.resolve(DID, AbortSignal.abort()), isResolutionError('aborted'))
  })

  it('a document for another DID is id-mismatch; a non-document is bad-document', async () => {
    const other = 'did:plc:dddddddddddddddddddddddd'
    plc.setDocument(other, testDoc)
    await assert.rejects(resolver.resolve(other), isResolutionError('id-mismatch', other))
    plc.setDocument(other, [testDoc])
    await assert.rejects(resolver.resolve(other), isResolutionError('bad-document', other))
  })

  it('follows a bounded number of safe redirects', async () => {
    plc.failNext({ redirectTo: `/${DID}` })
    assert.equal((await resolver.resolve(DID)).did, DID)
    plc.failNext({ redirectTo: `/${DID}` }, 4)
    await assert.rejects(resolver.resolve(DID), isResolutionError('too-many-redirects'))
    const noRedirects = make({ maxRedirects: 0 })
    plc.failNext({ redirectTo: `/${DID}` })
    await assert.rejects(noRedirects.resolve(DID), isResolutionError('too-many-redirects'))
    plc.failNext({ redirectTo: 'file:///etc/passwd' })
    await assert.rejects(resolver.resolve(DID), isResolutionError('bad-redirect'))
  })

  it('a refused connection is network', async () => {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    await new Promise<void>((resolve) => server.close(() => resolve()))
    const dead = new DidResolver({ plcUrl: `http://127.0.0.1:${port}/`, userAgent: UA })
    await assert.rejects(dead.resolve(DID), isResolutionError('network'))
  })

  it('refuses unsupported methods and malformed DIDs without a request', async () => {
    const count = plc.requestCount()
    await assert.rejects(
      resolver.resolve('did:key:zQ3shTest'),
      isResolutionError('unsupported-method', 'did:key:zQ3shTest'),
    )
    for (const bad of ['did:plc:short', 'did:plc:EWVI7NXZYOUN6ZHXRHS64OIZ', 'alice', 'did:plc:']) {
      await assert.rejects(resolver.resolve(bad), isResolutionError('invalid-did', bad))
    }
    assert.equal(plc.requestCount(), count)
  })

  it('builds the PLC URL from a base with or without a path', () => {
    const withPath = new DidResolver({ plcUrl: 'https://plc.example.com/dir/', userAgent: UA })
    assert.equal(withPath.documentUrl(DID), `https://plc.example.com/dir/${DID}`)
    assert.throws(() => new DidResolver({ plcUrl: 'ftp://x', userAgent: UA }), TypeError)
    assert.throws(() => new DidResolver({ plcUrl: plc.url, userAgent: '' }), TypeError)
  })
})

describe('DidResolver did:web over loopback', () => {
  it('resolves with allowInsecureWeb and refuses without it', async () => {
    const web = await startMockDidWeb()
    try {
      web.setDocument({
        ...scenarioIdentityToDidDocument({
          did: web.did,
          alsoKnownAs: ['at://web.example.com'],
          services: {
            atproto_pds: { type: 'AtprotoPersonalDataServer', url: 'http://localhost:2583' },
          },
          keys: { atproto: { type: 'Multikey', publicKeyMultibase: 'zDnaeWeb' } },
        }),
      })
      const opts = { plcUrl: 'http://127.0.0.1:9', userAgent: UA }
      const insecure = new DidResolver({ ...opts, allowInsecureWeb: true })
      const got = await insecure.resolve(web.did)
      assert.deepEqual(got, {
        did: web.did,
        handle: 'web.example.com',
        pds: 'http://localhost:2583',
        signingKey: { type: 'Multikey', publicKeyMultibase: 'zDnaeWeb' },
      })
      assert.deepEqual(web.userAgents, [UA])

      const strict = new DidResolver(opts)
      await assert.rejects(
        strict.resolve(web.did),
        isResolutionError('insecure-not-allowed', web.did),
      )
      assert.equal(web.requestCount(), 1, 'no request made when refused')

      web.setDocument(null)
      await assert.rejects(insecure.resolve(web.did), DidNotFoundError)
    } finally {
      await web.close()
    }
  })
})

it('did:web with a host check: refused before any request when the check throws (SSRF)', async () => {
  const web = await startMockDidWeb()
  try {
    const checked: string[] = []
    const resolver = new DidResolver({
      plcUrl: 'http://127.0.0.1:1',
      userAgent: 'test',
      allowInsecureWeb: true,
      checkWebHost: async (hostname) => {
        checked.push(hostname)
        throw new Error(`${hostname} is private`)
      },
    })
    await assert.rejects(resolver.resolve(web.did), isResolutionError('unsafe-host', web.did))
    assert.equal(checked.length, 1)
    assert.equal(web.requestCount(), 0)
  } finally {
    await web.close()
  }
})
