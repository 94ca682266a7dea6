// Hostile or clumsy clients must not crash or hang the relay: a malformed request target on a
// WebSocket upgrade, a client that resets after a refused upgrade, and a graceful stop while a
// firehose consumer is still connected.
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { test } from 'node:test'
import { startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import { Consumer, startTestRelay } from '../support/relay-harness.ts'

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
