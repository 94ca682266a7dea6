import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import { WebSocket, WebSocketServer } from 'ws'
import { buildWireBatch, frameHeaderAt, wireLength, writeBatch } from './wire.ts'

const sizes = [0, 1, 125, 126, 127, 65_535, 65_536, 70_000]
const frameOf = (n: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 255)

async function pair(): Promise<{
  server: WebSocket
  client: WebSocket
  close: () => Promise<void>
}> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await once(wss, 'listening')
  const { port } = wss.address() as AddressInfo
  const client = new WebSocket(`ws://127.0.0.1:${port}`)
  const [server] = (await once(wss, 'connection')) as [WebSocket]
  if (client.readyState !== WebSocket.OPEN) await once(client, 'open')
  return {
    server,
    client,
    close: async () => {
      client.terminate()
      server.terminate()
      await new Promise<void>((r) => wss.close(() => r()))
    },
  }
}

function collect(ws: WebSocket, n: number): Promise<Uint8Array[]> {
  const got: Uint8Array[] = []
  return new Promise((resolve) => {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      assert.ok(isBinary)
      got.push(new Uint8Array(data))
      if (got.length === n) resolve(got)
    })
  })
}

describe('wire batches', () => {
  it('frames every payload length correctly in one buffer (7-, 16- and 64-bit lengths)', async () => {
    const frames = sizes.map(frameOf)
    const batch = buildWireBatch(frames)
    assert.equal(
      batch.payloadBytes,
      sizes.reduce((a, b) => a + b, 0),
    )
    const p = await pair()
    const received = collect(p.client, frames.length * 2)
    writeBatch(p.server, batch)
    writeBatch(p.server, batch)
    assert.deepEqual(await received, [...frames, ...frames])
    await p.close()
  })

  it('falls back to ws.send where a direct write would be wrong (client side: masking)', async () => {
    const frames = sizes.map(frameOf)
    const p = await pair()
    const received = collect(p.server, frames.length)
    let written = 0
    writeBatch(p.client, buildWireBatch(frames), () => written++)
    assert.deepEqual(await received, frames)
    assert.equal(written, 1, 'told once, after the last frame')
    await p.close()
  })

  it('reads its headers back: every length form, a masking key, and a header cut short', () => {
    const { bytes } = buildWireBatch(sizes.map(frameOf))
    let o = 0
    for (const n of sizes) {
      const h = frameHeaderAt(bytes, o)
      assert.deepEqual(h, { head: n < 126 ? 2 : n < 65_536 ? 4 : 10, payload: n })
      assert.equal(frameHeaderAt(bytes.subarray(0, o + h!.head - 1), o), null)
      o += h!.head + n
    }
    assert.equal(o, bytes.length)
    // A client's frame (masked, 16-bit length): four more header bytes.
    assert.deepEqual(frameHeaderAt(Uint8Array.of(0x82, 0x80 | 126, 0x01, 0x00, 1, 2, 3, 4), 0), {
      head: 8,
      payload: 256,
    })
    assert.equal(frameHeaderAt(Uint8Array.of(0x82), 0), null)
  })

  it('builds into a reused buffer, and says when the socket has taken it', async () => {
    const frames = sizes.map(frameOf)
    const reused = Buffer.alloc(wireLength(frames) + 100, 0xee)
    const p = await pair()
    const received = collect(p.client, frames.length * 2)
    const first = buildWireBatch(frames, reused)
    assert.equal(first.bytes.buffer, reused.buffer, 'no copy of its own')
    assert.equal(first.count, frames.length)
    await new Promise<void>((resolve) => writeBatch(p.server, first, resolve))
    // Taken by the kernel: the same memory may now carry the next batch, other frames.
    const next = frames.map((f) => f.map((b) => b ^ 0xff))
    writeBatch(p.server, buildWireBatch(next, reused))
    assert.deepEqual(await received, [...frames, ...next])
    assert.throws(() => buildWireBatch(frames, reused.subarray(0, 10)), RangeError)
    await p.close()
  })
})
