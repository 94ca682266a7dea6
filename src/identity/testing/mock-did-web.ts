// Test support: a did:web host on a loopback port serving `/.well-known/did.json` over plain
// http, as a local development server would. Its DID is `did:web:127.0.0.1%3A{port}` (resolvable
// only with allowInsecureWeb). It serves one document (404 until one is set) and records the
// User-Agent of each request; nothing else.

import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface MockDidWeb {
  readonly did: string
  /** The document served; null for 404. */
  setDocument(doc: object | null): void
  requestCount(): number
  readonly userAgents: readonly (string | undefined)[]
  close(): Promise<void>
}

export async function startMockDidWeb(): Promise<MockDidWeb> {
  let document: object | null = null
  const userAgents: (string | undefined)[] = []
  const server = createServer((req, res) => {
    userAgents.push(req.headers['user-agent'])
    const path = new URL(req.url ?? '/', 'http://mock').pathname
    const body = path === '/.well-known/did.json' ? document : null
    const text = JSON.stringify(body ?? { error: 'not found' })
    res.writeHead(body === null ? 404 : 200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    })
    res.end(text)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo
  return {
    did: `did:web:127.0.0.1%3A${port}`,
    userAgents,
    setDocument(doc) {
      document = doc
    },
    requestCount() {
      return userAgents.length
    },
    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()))
        server.closeAllConnections()
      })
    },
  }
}
