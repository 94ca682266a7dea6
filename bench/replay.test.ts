// `npm run replay` against a WebSocket server that sends messages of every length form (7-, 16-
// and 64-bit), pings between them and splits nothing on purpose (the kernel may): every message
// and payload byte is counted, and every ping is answered with its own payload.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { test } from 'node:test'
import { WebSocketServer } from 'ws'

test('the replay client counts every message and answers pings', async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(wss, 'listening')
  const { port } = wss.address() as AddressInfo
  const pongs: string[] = []
  const sizes = [0, 125, 126, 65_535, 65_536, 200_000, 3_300]
  wss.on('connection', (ws) => {
    ws.on('pong', (data: Buffer) => pongs.push(data.toString()))
    for (const n of sizes.slice(0, 3)) ws.send(Buffer.alloc(n, 1))
    ws.ping('first')
    for (const n of sizes.slice(3)) ws.send(Buffer.alloc(n, 2))
    setTimeout(() => {
      ws.ping('')
      ws.send(Buffer.alloc(10))
    }, 200)
  })
  const child = spawn(
    process.execPath,
    ['bench/replay.ts', '--url', `ws://127.0.0.1:${port}`, '--idle-seconds', '1'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let out = ''
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const [code] = await once(child, 'exit')
  wss.close()
  assert.equal(code, 0)
  const result = JSON.parse(out) as { messages: number; bytes: number; closedByRelay: boolean }
  assert.equal(result.messages, sizes.length + 1)
  assert.equal(
    result.bytes,
    sizes.reduce((a, b) => a + b, 10),
  )
  assert.equal(result.closedByRelay, false)
  assert.deepEqual(pongs, ['first', ''])
})
