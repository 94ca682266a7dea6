import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import {
  MAX_DOCUMENT_ARRAY_ENTRIES,
  normalizePdsEndpoint,
  parseDidDocument,
} from './did-document.ts'
import { DidDocumentError } from './errors.ts'
import { type ScenarioIdentity, scenarioIdentityToDidDocument } from './testing/mock-plc.ts'

const SCENARIOS = join(import.meta.dirname, '../../test/fixtures/relay-scenarios')
const DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const KEY = 'zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF'

function doc(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    '@context': ['https://www.w3.org/ns/did/v1'],
    id: DID,
    alsoKnownAs: ['at://Atproto.COM'],
    verificationMethod: [
      { id: `${DID}#atproto`, type: 'Multikey', controller: DID, publicKeyMultibase: KEY },
    ],
    service: [
      {
        id: '#atproto_pds',
        type: 'AtprotoPersonalDataServer',
        serviceEndpoint: 'https://PDS.Example.com/',
      },
    ],
    ...overrides,
  }
}

function rejects(input: unknown, reason: string, did = DID): void {
  assert.throws(
    () => parseDidDocument(did, input),
    (err: unknown) => err instanceof DidDocumentError && err.reason === reason && err.did === did,
    `expected DidDocumentError ${reason}`,
  )
}

describe('parseDidDocument', () => {
  it('reads every scenario identity', () => {
    const files = readdirSync(SCENARIOS).filter((f) => f.endsWith('.json'))
    assert.ok(files.length > 0, 'scenario fixtures present')
    let cases = 0
    for (const file of files) {
      const scenario = JSON.parse(readFileSync(join(SCENARIOS, file), 'utf8')) as {
        accounts?: { identity: ScenarioIdentity }[]
      }
      for (const { identity } of scenario.accounts ?? []) {
        const name = `${file} ${identity.did}`
        const parsed = parseDidDocument(identity.did, scenarioIdentityToDidDocument(identity))
        assert.equal(parsed.did, identity.did, name)
        assert.equal(parsed.handle, identity.handle, `${name} handle`)
        assert.equal(parsed.pds, identity.services?.atproto_pds?.url, `${name} pds`)
        assert.deepEqual(parsed.signingKey, identity.keys?.atproto, `${name} key`)
        cases++
      }
    }
    assert.ok(cases >= 4, 'every scenario file has accounts')
  })

  it('normalises handle and endpoint', () => {
    assert.deepEqual(parseDidDocument(DID, doc()), {
      did: DID,
      handle: 'atproto.com',
      pds: 'https://pds.example.com',
      signingKey: { type: 'Multikey', publicKeyMultibase: KEY },
    })
  })

  it('accepts relative ids and missing controller', () => {
    const parsed = parseDidDocument(
      DID,
      doc({
        verificationMethod: [{ id: '#atproto', type: 'Multikey', publicKeyMultibase: KEY }],
        service: [
          {
            id: `${DID}#atproto_pds`,
            type: 'AtprotoPersonalDataServer',
            serviceEndpoint: 'http://localhost:2583',
          },
        ],
      }),
    )
    assert.equal(parsed.signingKey?.publicKeyMultibase, KEY)
    assert.equal(parsed.pds, 'http://localhost:2583')
  })

  it('takes the first matching entries and ignores others', () => {
    const parsed = parseDidDocument(
      DID,
      doc({
        alsoKnownAs: ['https://example.com', 'at://first.example.com', 'at://second.example.com'],
        verificationMethod: [
          { id: `${DID}#other`, type: 'Multikey', controller: DID, publicKeyMultibase: 'zOther' },
          { id: 'did:plc:someoneelse#atproto', type: 'Multikey', publicKeyMultibase: 'zFoe' },
          'junk',
          { id: '#atproto', type: 'Multikey', controller: DID, publicKeyMultibase: KEY },
          { id: '#atproto', type: 'Multikey', controller: DID, publicKeyMultibase: 'zLater' },
        ],
      }),
    )
    assert.equal(parsed.handle, 'first.example.com')
    assert.equal(parsed.signingKey?.publicKeyMultibase, KEY)
  })

  const nullCases: [string, Record<string, unknown>, 'handle' | 'pds' | 'signingKey'][] = [
    ['no aliases', { alsoKnownAs: [] }, 'handle'],
    ['absent aliases', { alsoKnownAs: undefined }, 'handle'],
    ['first at:// alias invalid', { alsoKnownAs: ['at://bad_handle', 'at://ok.com'] }, 'handle'],
    ['alias with path', { alsoKnownAs: ['at://ok.com/path'] }, 'handle'],
    ['no key', { verificationMethod: [] }, 'signingKey'],
    [
      'key of another controller',
      {
        verificationMethod: [
          { id: '#atproto', type: 'Multikey', controller: 'did:plc:x', publicKeyMultibase: KEY },
        ],
      },
      'signingKey',
    ],
    [
      'key without multibase',
      { verificationMethod: [{ id: '#atproto', type: 'Multikey', publicKeyJwk: {} }] },
      'signingKey',
    ],
    [
      'absurd key',
      {
        verificationMethod: [
          { id: '#atproto', type: 'Multikey', publicKeyMultibase: `z${'a'.repeat(600)}` },
        ],
      },
      'signingKey',
    ],
    ['no service', { service: [] }, 'pds'],
    [
      'wrong service type',
      { service: [{ id: '#atproto_pds', type: 'Other', serviceEndpoint: 'https://a.com' }] },
      'pds',
    ],
    ...[
      'https://pds.example.com/xrpc',
      'https://pds.example.com/?q=1',
      'https://pds.example.com#f',
      'https://user:pw@pds.example.com',
      'wss://pds.example.com',
      'not a url',
    ].map((url): [string, Record<string, unknown>, 'pds'] => [
      `endpoint ${url}`,
      {
        service: [{ id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: url }],
      },
      'pds',
    ]),
    [
      'endpoint object',
      {
        service: [
          { id: '#atproto_pds', type: 'AtprotoPersonalDataServer', serviceEndpoint: { a: 1 } },
        ],
      },
      'pds',
    ],
  ]
  for (const [name, overrides, field] of nullCases) {
    it(`yields null ${field} for: ${name}`, () => {
      const parsed = parseDidDocument(DID, doc(overrides))
      assert.equal(parsed[field], null, name)
    })
  }

  it('rejects documents that are not for this DID or not documents', () => {
    rejects(null, 'not-an-object')
    rejects([doc()], 'not-an-object')
    rejects('did', 'not-an-object')
    rejects(doc({ id: 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa' }), 'id-mismatch')
    rejects(doc({ id: undefined }), 'id-mismatch')
    rejects(doc({ id: DID.toUpperCase() }), 'id-mismatch')
    rejects(doc({ alsoKnownAs: 'at://a.com' }), 'malformed')
    rejects(doc({ service: {} }), 'malformed')
    const many = Array.from({ length: MAX_DOCUMENT_ARRAY_ENTRIES + 1 }, () => 'at://a.com')
    rejects(doc({ alsoKnownAs: many }), 'too-large')
    rejects(doc({ verificationMethod: many }), 'too-large')
  })
})

describe('normalizePdsEndpoint', () => {
  const cases: [string, string | null][] = [
    ['https://pds.example.com', 'https://pds.example.com'],
    ['https://PDS.example.COM/', 'https://pds.example.com'],
    ['https://pds.example.com:443', 'https://pds.example.com'],
    ['https://pds.example.com:8443/', 'https://pds.example.com:8443'],
    ['http://127.0.0.1:2583', 'http://127.0.0.1:2583'],
    ['http://[::1]:2583/', 'http://[::1]:2583'],
    ['https://pds.example.com/a', null],
    ['ftp://pds.example.com', null],
    ['', null],
  ]
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} → ${expected}`, () => {
      assert.equal(normalizePdsEndpoint(input), expected, input)
    })
  }
})
