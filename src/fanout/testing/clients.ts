// Test support: a loopback WebSocket server that hands each subscription to a Fanout (cursor
// from the query string, as the API layer will), and clients that decode what they receive.
// Deliberately minimal: no HTTP routing, no proxy headers.
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'
import { decodeFrame, type Frame } from '../../protocol/frame.ts'
import type { Fanout } from '../fanout.ts'

export interface TestServer {
  readonly url: string
  readonly wss: WebSocketServer
  close(): Promise<void>
}

export async function startServer(fanout: Fanout): Promise<TestServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
  wss.on('connection', (ws, req) => {
    const param = new URL(req.url ?? '/', 'http://x').searchParams.get('cursor')
    fanout.attach(ws, {
      cursor: param === null ? undefined : Number(param),
      remoteAddr: req.socket.remoteAddress ?? '',
      userAgent: req.headers['user-agent'] ?? '',
    })
  })
  await once(wss, 'listening')
  const { port } = wss.address() as AddressInfo
  return {
    url: `ws://127.0.0.1:${port}/xrpc/com.atproto.sync.subscribeRepos`,
    wss,
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate()
        wss.close(() => resolve())
      }),
  }
}

export class TestClient {
  readonly ws: WebSocket
  readonly frames: Frame[] = []
  readonly raw: Uint8Array[] = []
  closeCode: number | undefined
  readonly closed: Promise<void>
  #waiters: (() => void)[] = []

  constructor(url: string, opts?: { cursor?: number; userAgent?: string; autoPong?: boolean }) {
    const u = opts?.cursor === undefined ? url : `${url}?cursor=${opts.cursor}`
    this.ws = new WebSocket(u, {
      perMessageDeflate: false,
      autoPong: opts?.autoPong ?? true,
      headers: { 'user-agent': opts?.userAgent ?? 'fanout-test' },
    })
    this.ws.on('message', (data: Buffer) => {
      this.raw.push(new Uint8Array(data))
      this.frames.push(decodeFrame(new Uint8Array(data)))
      this.#wake()
    })
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code) => {
        this.closeCode = code
        resolve()
        this.#wake()
      })
    })
    this.ws.on('error', () => {})
  }

  async opened(): Promise<void> {
    if (this.ws.readyState !== WebSocket.OPEN) await once(this.ws, 'open')
  }

  /** Seqs of the message frames received so far. */
  seqs(): number[] {
    const out: number[] = []
    for (const f of this.frames)
      if (f.op === 1 && typeof f.body.seq === 'number') out.push(f.body.seq)
    return out
  }

  /** Waits (bounded) until `cond` holds; re-checked on every frame and on close. */
  async until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (!cond()) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`timed out waiting for ${what}`)
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200))
        this.#waiters.push(() => {
          clearTimeout(t)
          resolve()
        })
      })
    }
  }

  #wake(): void {
    const w = this.#waiters
    this.#waiters = []
    for (const f of w) f()
  }
}

/** The seqs `from`, `from + 1`, … `to` (what a consumer that missed nothing has seen). */
export function seqRange(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i)
}

/** Polls `cond` (bounded) for server-side conditions that have no event to wait on. */
export async function eventually(
  cond: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}
