// publicFetch, the fetch for URLs the network names: refused before connecting when the name
// resolves to a private address; status, headers, streamed body and redirects passed through
// (redirects not followed); any status a hostile host answers ends as a rejection or a Response,
// never a throw that would end the process.
import assert from 'node:assert/strict'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { readCapped } from '../net/read-capped.ts'
import { UnsafeAddressError } from './errors.ts'
import { publicFetch } from './public-fetch.ts'

describe('publicFetch', () => {
  let port = 0
  let connections = 0
  const server = createServer((req, res) => {
    if (req.url === '/moved') return res.writeHead(302, { location: '/doc' }).end()
    if (req.url === '/large') return res.writeHead(404).end(Buffer.alloc(300_000, 97))
    const odd = /^\/status\/(\d+)$/.exec(req.url ?? '')
    if (odd) return res.writeHead(Number(odd[1])).end('x')
    res.writeHead(200, { 'content-type': 'application/json', 'x-two': 'a' })
    res.end(JSON.stringify({ ua: req.headers['user-agent'] }))
  })
  server.on('connection', () => connections++)
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    port = (server.address() as AddressInfo).port
  })
  after(() => new Promise<void>((r) => server.close(() => r())))

  it('refuses a name that resolves to a private address, without connecting', async () => {
    const lookup = async () => [{ address: '127.0.0.1', family: 4 }]
    const fetch = publicFetch(false, lookup)
    const before = connections
    await assert.rejects(fetch(new URL(`http://rebound.example:${port}/doc`)), UnsafeAddressError)
    await assert.rejects(fetch(`http://127.0.0.1:${port}/doc`), UnsafeAddressError)
    assert.equal(connections, before)
  })

  it('localhost in development: status, headers and body come through', async () => {
    const fetch = publicFetch(true)
    const res = await fetch(new URL(`http://localhost:${port}/doc`), {
      headers: { 'user-agent': 'relay-test' },
    })
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('x-two'), 'a')
    assert.deepEqual(await res.json(), { ua: 'relay-test' })
  })

  it('a redirect is returned, not followed', async () => {
    const res = await publicFetch(true)(`http://localhost:${port}/moved`)
    assert.equal(res.status, 302)
    assert.equal(res.headers.get('location'), '/doc')
    await res.body?.cancel()
  })

  it('odd statuses from a hostile host: a Response or a rejection, never a crash', async () => {
    const fetch = publicFetch(true)
    for (const status of [205, 204, 304]) {
      const res = await fetch(`http://localhost:${port}/status/${status}`)
      assert.equal(res.status, status)
    }
    for (const status of [600, 999]) {
      await assert.rejects(fetch(`http://localhost:${port}/status/${status}`), /HTTP status/)
    }
  })

  it('a body cancelled unread (over the cap, or not wanted) never throws later', async () => {
    const fetch = publicFetch(true)
    for (let i = 0; i < 10; i++) {
      assert.equal(await readCapped(await fetch(`http://localhost:${port}/large`), 1024), null)
      await (await fetch(`http://localhost:${port}/large`)).body?.cancel()
    }
    await new Promise((r) => setTimeout(r, 50)) // any late chunk has arrived
    const whole = await fetch(`http://localhost:${port}/large`)
    assert.equal((await whole.arrayBuffer()).byteLength, 300_000)
  })
})
