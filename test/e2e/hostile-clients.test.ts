// Hostile or clumsy clients must not crash or hang the relay: a malformed request target on a
// WebSocket upgrade, a client that resets after a refused upgrade, a graceful stop while a
// firehose consumer is still connected, and clients that send a byte at a time or hold too many
// connections (cut off with 408 / 429 and counted, while a firehose consumer is left alone).
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { test } from 'node:test'
import { startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { Consumer, eventually, startTestRelay } from '../support/relay-harness.ts'

const UPGRADE = (target: string) =>
  `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`

function raw(port: number, request: string, reset: boolean): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(request)
      if (reset) socket.resetAndDestroy()
    })
    let text = ''
    socket.on('data', (d) => (text += d.toString()))
    socket.on('close', () => resolve(text))
    socket.on('error', () => resolve(text))
  })
}

test('malformed upgrade targets and resets do not crash the relay; stop completes with a consumer connected', {
  timeout: 30_000,
}, async () => {
  const plc = await startMockPlc({})
  const relay = await startTestRelay({ plcUrl: plc.url })
  try {
    const port = relay.relay.address().port
    for (const target of [
      '//',
      '///',
      '//a:b',
      '/xrpc/com.atproto.sync.subscribeRepos?cursor=abc',
    ]) {
      const answer = await raw(port, UPGRADE(target), false)
      assert.match(answer, /^HTTP\/1\.1 (400|404)/, target)
      await raw(port, UPGRADE(target), true)
    }
    const plain = await raw(port, 'GET // HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', false)
    assert.match(plain, /^HTTP\/1\.1 (400|404)/)
    const health = await fetch(`${relay.url}/xrpc/_health`)
    assert.equal(health.status, 200, 'still alive')
    const consumer = new Consumer(relay.wsUrl)
    await consumer.opened()
  } finally {
    await relay.close() // must not hang on the connected consumer
    await plc.close()
  }
})

test('slow HTTP clients are cut off and counted; firehose consumers are not affected', {
  timeout: 60_000,
}, async () => {
  const plc = await startMockPlc({})
  const relay = await startTestRelay({
    plcUrl: plc.url,
    flags: ['--max-http-connections-per-ip', '40'],
    overrides: { httpTimeouts: { headersTimeoutMs: 500, requestTimeoutMs: 1000 } },
  })
  const sockets: Socket[] = []
  try {
    const port = relay.relay.address().port
    // A consumer that stays connected for longer than every HTTP timeout.
    const consumer = new Consumer(relay.wsUrl)
    await consumer.opened()
    // 30 clients sending their headers a byte at a time, 10 sending a body a byte at a time.
    const slow = Array.from({ length: 40 }, (_, i) => {
      const socket = connect(port, '127.0.0.1')
      sockets.push(socket)
      let answer = ''
      let closed = false
      socket.on('data', (d) => (answer += d.toString()))
      socket.on('close', () => (closed = true))
      socket.on('error', () => {})
      // Headers a byte at a time; or the headers at once, then the body a byte at a time.
      const head =
        i < 30
          ? ''
          : 'POST /xrpc/com.atproto.sync.requestCrawl HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 300\r\n\r\n'
      const rest =
        i < 30
          ? `GET /xrpc/_health HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(200)}\r\n\r\n`
          : ' '.repeat(300)
      if (head) socket.write(head)
      let at = 0
      const timer = setInterval(() => {
        if (closed || at >= rest.length) return clearInterval(timer)
        socket.write(rest[at++]!)
      }, 50)
      return { closed: () => closed, answer: () => answer, stop: () => clearInterval(timer) }
    })
    await eventually(() => slow.every((c) => c.closed()), 30_000, 'every slow client closed')
    for (const c of slow) c.stop()
    for (const c of slow) assert.match(c.answer(), /^HTTP\/1\.1 408 /)
    // More connections from one address than allowed: the extra ones get 429 and are closed.
    const idle = Array.from({ length: 45 }, () => {
      const socket = connect(port, '127.0.0.1')
      sockets.push(socket)
      let answer = ''
      socket.on('data', (d) => (answer += d.toString()))
      socket.on('error', () => {})
      return () => answer
    })
    await eventually(
      () => idle.filter((a) => /^HTTP\/1\.1 429 /.test(a())).length >= 5,
      10_000,
      'connections past the cap refused',
    )
    const metrics = await (
      await fetch(`http://127.0.0.1:${relay.relay.metricsAddress()!.port}/metrics`)
    ).text()
    assert.match(metrics, /relay_http_refused_total\{reason="timeout"\} ([4-9]\d|\d{3,})/)
    assert.match(metrics, /relay_http_refused_total\{reason="per-address-limit"\} ([5-9]|\d{2,})/)
    for (const s of sockets) s.destroy()
    await eventually(
      async () => (await fetch(`${relay.url}/xrpc/_health`)).status === 200,
      10_000,
      'room again once those connections closed',
    )
    // Well past every HTTP timeout since it connected.
    await new Promise((r) => setTimeout(r, 1500))
    assert.equal(consumer.closed, false, 'the consumer outlived every HTTP timeout')
  } finally {
    for (const s of sockets) s.destroy()
    await relay.close()
    await plc.close()
  }
})
