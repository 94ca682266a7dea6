// lightFetch, the fetch for the PLC directory's documents: status, headers and streamed body
// come through; redirects are returned, not followed; connections are kept and reused; a signal
// aborts before the answer and in the middle of the body; a body cancelled unread never throws
// later; other methods are refused; and a DidResolver over it resolves a document.
import assert from 'node:assert/strict'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { DidNotFoundError } from '../identity/errors.ts'
import { DidResolver } from '../identity/resolver.ts'
import { lightFetch } from './light-fetch.ts'
import { readCapped } from './read-capped.ts'

const DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const KEY = 'zQ3shXjHeiBuRCKmM36cuYnm7YEMzhGnCmCyW92sRJ9pribSF'

describe('lightFetch', () => {
  let base = ''
  let connections = 0
  /** A body left open by /slow-body, ended by the test. */
  let open: ServerResponse | undefined
  const server = createServer((req, res) => {
    if (req.url === '/moved') return res.writeHead(302, { location: '/doc' }).end()
    if (req.url === '/moved-with-body') {
      return res.writeHead(302, { location: '/doc' }).end('<html>moved</html>')
    }
    if (req.url === '/large') return res.writeHead(200).end(Buffer.alloc(300_000, 97))

    if (req.url === '/empty') return res.writeHead(204).end()
    if (req.url === '/hang') return // never answers
    if (req.url === '/slow-body') {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.write('{"a":')
      open = res
      return
    }
    if (req.url === `/${DID}`) {
      res.writeHead(200, { 'content-type': 'application/json' })
      return res.end(
        JSON.stringify({
          id: DID,
          alsoKnownAs: ['at://alice.test'],
          verificationMethod: [
            { id: `${DID}#atproto`, type: 'Multikey', controller: DID, publicKeyMultibase: KEY },
          ],
          service: [
            {
              id: '#atproto_pds',
              type: 'AtprotoPersonalDataServer',
              serviceEndpoint: 'https://pds.example.com',
            },
          ],
        }),
      )
    }
    if (req.url?.startsWith('/did:plc:')) {
      return res
        .writeHead(404, { 'content-type': 'application/json' })
        .end('{"message":"DID not registered"}')
    }
    res.writeHead(200, { 'content-type': 'application/json', 'set-cookie': ['a=1', 'b=2'] })
    res.end(JSON.stringify({ ua: req.headers['user-agent'], accept: req.headers.accept }))
  })
  server.on('connection', () => connections++)
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => {
    open?.destroy()
    server.closeAllConnections()
    return new Promise<void>((r) => server.close(() => r()))
  })

  it('passes status, headers (repeated ones too) and the body through', async () => {
    const res = await lightFetch()(`${base}/doc`, {
      headers: { 'user-agent': 'relay-test', accept: 'application/json' },
    })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('content-type'), 'application/json')
    assert.deepEqual(res.headers.getSetCookie(), ['a=1', 'b=2'])
    assert.deepEqual(await res.json(), { ua: 'relay-test', accept: 'application/json' })
  })

  it('keeps its connections for the next requests', async () => {
    const fetch = lightFetch()
    const before = connections
    for (let i = 0; i < 20; i++) await (await fetch(new URL(`${base}/doc`))).arrayBuffer()
    // A request sent as the one before ends may open a second; never one each.
    assert.ok(connections - before <= 2, `${connections - before} connections for 20 requests`)
  })

  it('returns a redirect without following it, and a 204 without a body', async () => {
    const fetch = lightFetch()
    const moved = await fetch(`${base}/moved`)
    assert.equal(moved.status, 302)
    assert.equal(moved.headers.get('location'), '/doc')
    await moved.body?.cancel()
    const empty = await fetch(`${base}/empty`)
    assert.equal(empty.status, 204)
    assert.equal(empty.body, null)
  })

  it('rejects when the signal aborts before the answer', async () => {
    const signal = AbortSignal.timeout(50)
    await assert.rejects(lightFetch()(`${base}/hang`, { signal }))
    assert.ok(signal.aborted)
  })

  it('errors the body when the signal aborts in the middle of it', async () => {
    const controller = new AbortController()
    const res = await lightFetch()(`${base}/slow-body`, { signal: controller.signal })
    assert.equal(res.status, 200)
    const reading = readCapped(res, 1024)
    controller.abort()
    await assert.rejects(reading)
  })

  it('refuses any method but GET, before connecting', async () => {
    const before = connections
    await assert.rejects(lightFetch()(`${base}/doc`, { method: 'POST' }), /only GET/)
    assert.equal(connections, before)
  })

  // Bodies the caller cancels unread: a 404's, a redirect's, one over the size cap. Cancelling
  // a stream made with Readable.toWeb left a listener that threw on the next chunk, outside any
  // promise, and ended the process.
  it('lets the caller cancel a body it does not read, and the process lives on', async () => {
    const fetch = lightFetch()
    const resolver = new DidResolver({ plcUrl: base, userAgent: 'relay-test', fetch })
    for (let i = 0; i < 10; i++) {
      await assert.rejects(
        resolver.resolve('did:plc:unknownunknownunknownunk'),
        (err: unknown) => err instanceof DidNotFoundError,
      )
      const moved = await fetch(`${base}/moved-with-body`)
      await moved.body?.cancel()
      assert.equal(await readCapped(await fetch(`${base}/large`), 1024), null)
    }
    await new Promise((r) => setTimeout(r, 50)) // any late chunk has arrived
    assert.equal((await (await fetch(`${base}/large`)).arrayBuffer()).byteLength, 300_000)
  })

  it('serves a DidResolver: a document resolved through it', async () => {
    const resolver = new DidResolver({ plcUrl: base, userAgent: 'relay-test', fetch: lightFetch() })
    const identity = await resolver.resolve(DID)
    assert.equal(identity.did, DID)
    assert.equal(identity.handle, 'alice.test')
    assert.equal(identity.pds, 'https://pds.example.com')
  })
})
