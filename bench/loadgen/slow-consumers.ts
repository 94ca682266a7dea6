// A burst of slow consumers (`--slow-consumers N`): N firehose subscribers that complete the
// WebSocket handshake and then never read, so the relay's send buffers for them fill until its
// per-consumer bound or its global consumer-buffer budget cuts them. Each connects from its own
// loopback address (127.0.x.y), so the relay's per-address limit does not refuse them. They
// leave together when told; the run then records how much of the memory they took the relay
// gave back. Whether the relay cut them is read from its metrics (a paused socket never reads
// the close).
import { request } from 'node:http'
import type { Socket } from 'node:net'

export interface SlowConsumers {
  readonly connected: number
  /** Closes every socket. */
  leave(): void
}

export async function connectSlowConsumers(wsUrl: string, count: number): Promise<SlowConsumers> {
  const u = new URL(wsUrl)
  const sockets: Socket[] = []
  const connectOne = (i: number) =>
    new Promise<void>((resolve) => {
      const req = request({
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        localAddress: `127.0.${1 + (i >> 8)}.${(i & 255) + 1}`,
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': Buffer.from(`slow-consumer-${i}`.padEnd(16, '-')).toString('base64'),
        },
      })
      req.on('upgrade', (_res, socket: Socket) => {
        socket.pause() // never read: the kernel's buffers fill, then the relay's
        socket.on('error', () => {})
        sockets.push(socket)
        resolve()
      })
      req.on('response', (res) => {
        res.resume()
        resolve()
      })
      req.on('error', () => resolve())
      req.end()
    })
  for (let i = 0; i < count; i++) await connectOne(i)
  return {
    connected: sockets.length,
    leave() {
      for (const s of sockets) s.destroy()
    },
  }
}
