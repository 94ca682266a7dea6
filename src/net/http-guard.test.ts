// The HTTP guard on real sockets: clients that send headers or a body one byte at a time are
// answered 408 and closed; idle keep-alive connections are closed; one address gets at most N
// connections (429 beyond, and room again once one closes); an upgraded socket no longer counts;
// behind a trusted proxy the cap applies to each forwarded client's requests in flight.
// Waits are bounded by generous limits; nothing here measures speed.
import assert from 'node:assert/strict'
import type { Server } from 'node:http'
import { connect, type Socket } from 'node:net'
import { after, describe, it } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { type GuardedServer, guardedServer, type HttpGuardOptions } from './http-guard.ts'

const servers: Server[] = []
const sockets: Socket[] = []
after(async () => {
  for (const s of sockets) s.destroy()
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))))
})

async function start(
  opts: Partial<HttpGuardOptions>,
  handler?: Parameters<typeof guardedServer>[1],
): Promise<GuardedServer & { port: number }> {
  const g = guardedServer(
    {
      serverHeader: 'test-relay',
      maxConnectionsPerAddr: 0,
      headersTimeoutMs: 300,
      requestTimeoutMs: 600,
      keepAliveTimeoutMs: 300,
      ...opts,
    },
    handler ??
      ((req, res) => {
        req.resume()
        req.on('end', () => res.end('ok'))
      }),
  )
  servers.push(g.server)
  g.server.on('connection', (s) => sockets.push(s))
  await new Promise<void>((r) => g.server.listen(0, '127.0.0.1', r))
  const address = g.server.address()
  assert.ok(address && typeof address === 'object')
  return Object.assign(g, { port: address.port })
}

/** A raw client: everything it received, and whether the server closed it. */
function client(port: number) {
  const socket: Socket = connect(port, '127.0.0.1')
  sockets.push(socket)
  let text = ''
  let closed = false
  socket.on('data', (d) => (text += d.toString()))
  socket.on('close', () => (closed = true))
  socket.on('error', () => {})
  return {
    socket,
    text: () => text,
    closed: () => closed,
    opened: () => new Promise<void>((r) => socket.once('connect', () => r())),
  }
}

async function until(predicate: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const end = Date.now() + limitMs
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await delay(20)
  }
}

/** Writes `text` one byte every `everyMs` until the socket closes or the text ends. */
async function dribble(c: ReturnType<typeof client>, text: string, everyMs: number) {
  for (const ch of text) {
    if (c.closed()) return
    c.socket.write(ch)
    await delay(everyMs)
  }
}

describe('HTTP guard', () => {
  it('answers 408 and closes a client that sends its headers a byte at a time', async () => {
    const g = await start({})
    const c = client(g.port)
    await c.opened()
    void dribble(c, `GET / HTTP/1.1\r\nHost: x\r\nX-Padding: ${'a'.repeat(500)}\r\n\r\n`, 50)
    await until(c.closed, 'the slow client to be closed')
    assert.match(c.text(), /^HTTP\/1\.1 408 /)
    assert.match(c.text(), /Server: test-relay/)
    assert.equal(g.stats().refused.timeout, 1)
  })

  it('answers 408 and closes a client that sends its body a byte at a time', async () => {
    const g = await start({})
    const c = client(g.port)
    await c.opened()
    c.socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n')
    void dribble(c, 'x'.repeat(1000), 50)
    await until(c.closed, 'the slow client to be closed')
    assert.match(c.text(), /^HTTP\/1\.1 408 /)
    assert.equal(g.stats().refused.timeout, 1)
  })

  it('closes an idle keep-alive connection', async () => {
    const g = await start({})
    const c = client(g.port)
    await c.opened()
    c.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    await until(() => c.text().endsWith('ok'), 'the answer')
    await until(c.closed, 'the idle connection to be closed')
    assert.equal(g.stats().open, 0)
  })

  it('caps connections per address with a 429, and has room again when one closes', async () => {
    const g = await start({ maxConnectionsPerAddr: 3, headersTimeoutMs: 60_000 })
    const held = [client(g.port), client(g.port), client(g.port)]
    await Promise.all(held.map((c) => c.opened()))
    await until(() => g.stats().open === 3, 'three open connections')
    const extra = client(g.port)
    await until(extra.closed, 'the fourth connection to be refused')
    assert.match(extra.text(), /^HTTP\/1\.1 429 /)
    assert.match(extra.text(), /RateLimitExceeded/)
    assert.equal(g.stats().refused['per-address-limit'], 1)
    held[0]!.socket.destroy()
    await until(() => g.stats().open === 2, 'the closed one to be uncounted')
    const again = client(g.port)
    await again.opened()
    again.socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    await until(() => again.text().endsWith('ok'), 'an answer on the freed slot')
  })

  it('stops counting a socket once it is upgraded (consumers have limits of their own)', async () => {
    const g = await start({ maxConnectionsPerAddr: 1, headersTimeoutMs: 60_000 })
    g.server.on('upgrade', (_req, socket) => {
      socket.write(
        'HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n',
      )
    })
    const up = client(g.port)
    await up.opened()
    up.socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n')
    await until(() => up.text().startsWith('HTTP/1.1 101'), 'the upgrade')
    assert.equal(g.stats().open, 0)
    // Longer than every timeout: an upgraded socket is not an HTTP request any more.
    await delay(1000)
    assert.equal(up.closed(), false, 'the upgraded socket stays open')
    const plain = client(g.port)
    await plain.opened()
    plain.socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    await until(() => plain.text().endsWith('ok'), 'a plain request beside the upgraded socket')
    up.socket.destroy()
  })

  it('behind a trusted proxy, caps each forwarded client’s requests in flight', async () => {
    const waiting: (() => void)[] = []
    const g = await start(
      {
        maxConnectionsPerAddr: 2,
        isTrustedProxy: (peer) => peer === '127.0.0.1',
        clientAddress: (_peer, xff) => String(xff),
      },
      (_req, res) => {
        waiting.push(() => res.end('ok'))
      },
    )
    const ask = (forwardedFor: string) =>
      fetch(`http://127.0.0.1:${g.port}/`, { headers: { 'x-forwarded-for': forwardedFor } })
    const first = [ask('198.51.100.7'), ask('198.51.100.7')]
    await until(() => waiting.length === 2, 'two requests in flight')
    const third = await ask('198.51.100.7')
    assert.equal(third.status, 429)
    const other = ask('198.51.100.8')
    await until(() => waiting.length === 3, 'another client is not limited by the first')
    for (const w of waiting) w()
    for (const r of [...(await Promise.all(first)), await other]) assert.equal(r.status, 200)
    assert.equal(g.stats().refused['per-address-limit'], 1)
    assert.equal(g.stats().open, 0, 'proxy connections are not counted as connections')
  })
})
