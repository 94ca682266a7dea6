// Bench support: raw WebSocket subscriptions that only count the bytes they receive after the
// handshake. Nothing is parsed, so what a bench measures is the sending side, not the clients.
// Deliberately not a client: no frames, no pongs (a bench using these turns pings off).
import { once } from 'node:events'
import { request } from 'node:http'
import type { Socket } from 'node:net'

/**
 * Opens `count` subscriptions to `url`, one after another. The returned array holds each one's
 * bytes so far and keeps growing; `onData(i, bytes)` is called with subscription `i`'s new count
 * (possibly before this resolves).
 */
export async function openByteCounters(
  url: string,
  count: number,
  onData?: (index: number, bytes: number) => void,
): Promise<number[]> {
  const u = new URL(url)
  const counts: number[] = []
  for (let i = 0; i < count; i++) {
    const req = request({
      host: u.hostname,
      port: u.port,
      path: u.pathname,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        // Any 16 bytes, base64: the handshake only needs the form.
        'Sec-WebSocket-Key': Buffer.alloc(16, i % 256).toString('base64'),
      },
    })
    req.end()
    const [, socket, head] = (await once(req, 'upgrade')) as [unknown, Socket, Buffer]
    counts.push(head.length)
    socket.on('data', (chunk: Buffer) => {
      const bytes = (counts[i] ?? 0) + chunk.length
      counts[i] = bytes
      onData?.(i, bytes)
    })
  }
  return counts
}
