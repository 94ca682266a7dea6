// Test support: a mock PLC directory on a loopback port, and the conversion from the identity
// objects of fixtures/relay-scenarios/*.json to standard DID documents. Used by the identity
// tests and by end-to-end tests that need the relay to resolve scenario accounts.
//
// It serves `GET /{did}` only: 200 with the document, 404 for unknown DIDs, 410 for tombstoned
// ones, and scripted failures (a status, a hang, garbage, an oversize body, a redirect) for the
// next n requests. It can hold answers (decided on arrival, delivered on release) to observe
// concurrency and reordering. It does not implement PLC operations, audit logs or export.

import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/** `accounts[].identity` in fixtures/relay-scenarios/*.json. */
export interface ScenarioIdentity {
  readonly did: string
  readonly handle?: string
  readonly alsoKnownAs?: readonly string[]
  readonly services?: Readonly<Record<string, { readonly type: string; readonly url: string }>>
  readonly keys?: Readonly<
    Record<string, { readonly type: string; readonly publicKeyMultibase: string }>
  >
}

/** The DID document a PLC directory would serve for a scenario identity. */
export function scenarioIdentityToDidDocument(identity: ScenarioIdentity): Record<string, unknown> {
  const { did } = identity
  const key = identity.keys?.atproto
  const pds = identity.services?.atproto_pds
  return {
    '@context': [
      'https://www.w3.org/ns/did/v1',
      'https://w3id.org/security/multikey/v1',
      'https://w3id.org/security/suites/secp256k1-2019/v1',
    ],
    id: did,
    alsoKnownAs: [...(identity.alsoKnownAs ?? [])],
    verificationMethod:
      key === undefined
        ? []
        : [
            {
              id: `${did}#atproto`,
              type: key.type,
              controller: did,
              publicKeyMultibase: key.publicKeyMultibase,
            },
          ],
    service:
      pds === undefined ? [] : [{ id: '#atproto_pds', type: pds.type, serviceEndpoint: pds.url }],
  }
}

/** Documents for every account of one scenario file (parsed JSON), keyed by DID. */
export function scenarioDidDocuments(scenario: {
  readonly accounts?: readonly { readonly identity: ScenarioIdentity }[]
}): Record<string, Record<string, unknown>> {
  const docs: Record<string, Record<string, unknown>> = {}
  for (const account of scenario.accounts ?? []) {
    docs[account.identity.did] = scenarioIdentityToDidDocument(account.identity)
  }
  return docs
}

export type MockFailure = number | 'hang' | 'garbage' | 'oversize' | { readonly redirectTo: string }

export interface MockPlcRequest {
  readonly did: string
  readonly userAgent: string | undefined
}

export interface MockPlc {
  /** `http://127.0.0.1:{port}`, to pass as the PLC directory URL. */
  readonly url: string
  /** Replace a DID's document; null makes it unknown (404). */
  setDocument(did: string, doc: object | null): void
  /** Answer 410 for this DID from now on. */
  tombstone(did: string): void
  /** Requests received (all, or for one DID), counted when they arrive, held or not. */
  requestCount(did?: string): number
  /** Every request received, in order. */
  readonly requests: readonly MockPlcRequest[]
  /** The next `n` requests (default 1), whatever the DID, fail this way. */
  failNext(failure: MockFailure, n?: number): void
  /** Hold the answer to every new request until released. */
  hold(): void
  /** Deliver every held answer, in arrival order, and stop holding. */
  release(): void
  /** Deliver one held answer (index in arrival order among those held) and keep holding. */
  releaseAt(index: number): void
  /** Requests currently held. */
  heldCount(): number
  /** Resolves once at least `n` requests are held. */
  whenHeld(n: number): Promise<void>
  close(): Promise<void>
}

const OVERSIZE_BYTES = 256 * 1024

/** `listenPort` 0 (the default) picks a free one. */
export async function startMockPlc(
  docs: Record<string, object> = {},
  listenPort = 0,
): Promise<MockPlc> {
  const documents = new Map<string, object>(Object.entries(docs))
  const tombstoned = new Set<string>()
  const requests: MockPlcRequest[] = []
  const failures: MockFailure[] = []
  let holding = false
  let held: (() => void)[] = []
  let heldWaiters: { n: number; resolve: () => void }[] = []

  // The answer is decided when the request arrives (failure consumed, document snapshotted) and
  // delivered now or, while holding, on release: a held request is an answer delayed in transit.
  const decide = (did: string): ((res: ServerResponse) => void) => {
    const failure = failures.shift()
    if (failure !== undefined) return (res) => respondWithFailure(failure, res)
    if (tombstoned.has(did)) {
      return (res) => json(res, 410, { message: `DID not available: ${did}` })
    }
    const doc = documents.get(did)
    if (doc === undefined) return (res) => json(res, 404, { message: `DID not registered: ${did}` })
    const text = JSON.stringify(doc)
    return (res) => json(res, 200, JSON.parse(text), 'application/did+ld+json')
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://mock').pathname
    const did = decodeURIComponent(path.slice(1))
    requests.push({ did, userAgent: req.headers['user-agent'] })
    const reply = req.method === 'GET' ? decide(did) : () => json(res, 405, { message: 'GET only' })
    if (!holding) {
      reply(res)
      return
    }
    held.push(() => reply(res))
    heldWaiters = heldWaiters.filter((w) => {
      if (held.length < w.n) return true
      w.resolve()
      return false
    })
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(listenPort, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setDocument(did, doc) {
      tombstoned.delete(did)
      if (doc === null) documents.delete(did)
      else documents.set(did, doc)
    },
    tombstone(did) {
      tombstoned.add(did)
    },
    requestCount(did) {
      return did === undefined ? requests.length : requests.filter((r) => r.did === did).length
    },
    failNext(failure, n = 1) {
      for (let i = 0; i < n; i++) failures.push(failure)
    },
    hold() {
      holding = true
    },
    release() {
      holding = false
      const pending = held
      held = []
      for (const go of pending) go()
    },
    releaseAt(index) {
      const [go] = held.splice(index, 1)
      if (go === undefined) throw new RangeError(`no held request at ${index}`)
      go()
    },
    heldCount() {
      return held.length
    },
    whenHeld(n) {
      if (held.length >= n) return Promise.resolve()
      return new Promise((resolve) => heldWaiters.push({ n, resolve }))
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()))
        server.closeAllConnections()
      })
    },
  }
}

function respondWithFailure(failure: MockFailure, res: ServerResponse): void {
  if (typeof failure === 'number') {
    json(res, failure, { message: 'scripted failure' })
    return
  }
  if (typeof failure === 'object') {
    res.writeHead(302, { location: failure.redirectTo })
    res.end()
    return
  }
  switch (failure) {
    case 'hang':
      return // never answer; close() destroys the socket
    case 'garbage':
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"id": "did:plc:oops", this is not json')
      return
    case 'oversize': {
      // Chunked, no Content-Length: the reader must stop on its own.
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"padding":"')
      const chunk = 'x'.repeat(16 * 1024)
      let sent = 0
      const pump = (): void => {
        while (sent < OVERSIZE_BYTES) {
          sent += chunk.length
          if (!res.write(chunk)) {
            res.once('drain', pump)
            return
          }
        }
        res.end('"}')
      }
      res.on('error', () => {})
      pump()
      return
    }
  }
}

function json(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) })
  res.end(text)
}
