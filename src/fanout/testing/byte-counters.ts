// Bench support: raw WebSocket subscriptions, in a child process of their own, that only count
// the bytes they receive after the handshake, and the server side that makes them live
// consumers of a Fanout. Nothing is parsed, so what a bench measures is the sending side.
// Deliberately not a client: no frames, no pongs (a bench using these turns pings off).
import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { request } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { type WebSocket, WebSocketServer } from 'ws'
import type { Fanout } from '../fanout.ts'

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

/** A loopback server whose subscriptions go live on a Fanout, and the child process they live in. */
export interface ChildConsumers {
  readonly child: ChildProcess
  close(): Promise<void>
}

/**
 * Serves `fanout` on a loopback port and forks `entry` with `--clients <url>`; the child is to
 * open `count` subscriptions (openByteCounters) and send one message when they are open. Resolves
 * once the fanout has every one of them live. `onSocket` sees each server-side socket.
 */
export async function forkChildConsumers(
  fanout: Fanout,
  entry: string,
  count: number,
  onSocket?: (ws: WebSocket) => void,
): Promise<ChildConsumers> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
  wss.on('connection', (ws, req) => {
    onSocket?.(ws)
    fanout.attach(ws, {
      cursor: undefined,
      remoteAddr: String(req.socket.remotePort),
      userAgent: '',
    })
  })
  await once(wss, 'listening')
  const { port } = wss.address() as AddressInfo
  const child = fork(entry, ['--clients', `ws://127.0.0.1:${port}/`])
  await once(child, 'message')
  while (fanout.count < count) await new Promise((r) => setTimeout(r, 5))
  return {
    child,
    close: async () => {
      child.kill()
      await new Promise<void>((r) => wss.close(() => r()))
    },
  }
}
