// A fake PDS on loopback for end-to-end tests: it serves `subscribeRepos` (replaying the frames it
// has from the subscriber's cursor, then live ones), `describeServer` (so requestCrawl's probe
// passes) and `getRepoStatus` (from statuses the test sets). Frames are given as bytes with their
// seq; the PDS never looks inside them. `routes` answers more (a test PDS serving resyncs) before
// these.
import { createServer, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type WebSocket, WebSocketServer } from 'ws'
import { encodeErrorFrame } from '../../src/protocol/frame.ts'

/** Answers a request the test handles itself; false leaves it to the fake PDS. */
export type ExtraRoutes = (url: URL, res: ServerResponse) => boolean

export class FakePds {
  readonly #server: Server
  readonly #wss = new WebSocketServer({ noServer: true })
  readonly #frames: { seq: number; frame: Uint8Array }[] = []
  readonly #subscribers = new Set<WebSocket>()
  readonly statuses = new Map<string, { active: boolean; status?: string }>()
  readonly subscriptions: { cursor: string | null; userAgent: string | undefined }[] = []

  private constructor(server: Server) {
    this.#server = server
  }

  static async start(routes?: ExtraRoutes): Promise<FakePds> {
    const server = createServer()
    const pds = new FakePds(server)
    server.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (routes?.(url, res)) return
      if (url.pathname === '/xrpc/com.atproto.server.describeServer') {
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end(
          JSON.stringify({ did: 'did:web:localhost', availableUserDomains: ['.test'] }),
        )
      }
      if (url.pathname === '/xrpc/com.atproto.sync.getRepoStatus') {
        const did = url.searchParams.get('did') ?? ''
        const status = pds.statuses.get(did) ?? { active: true }
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end(JSON.stringify({ did, ...status }))
      }
      res.writeHead(404).end()
    })
    server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (url.pathname !== '/xrpc/com.atproto.sync.subscribeRepos') return socket.destroy()
      const cursor = url.searchParams.get('cursor')
      pds.subscriptions.push({ cursor, userAgent: req.headers['user-agent'] })
      pds.#wss.handleUpgrade(req, socket, head, (ws) => {
        const from = cursor === null ? Number.POSITIVE_INFINITY : Number(cursor)
        // Like a real PDS: a cursor past its newest event is answered with FutureCursor.
        if (cursor !== null && from > (pds.#frames.at(-1)?.seq ?? 0)) {
          ws.send(encodeErrorFrame('FutureCursor', 'Cursor in the future.'))
          ws.close()
          return
        }
        for (const f of pds.#frames) if (f.seq > from) ws.send(f.frame)
        pds.#subscribers.add(ws)
        ws.on('close', () => pds.#subscribers.delete(ws))
      })
    })
    await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve))
    return pds
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port
  }

  /** `localhost:PORT`: the hostname the relay crawls (with --allow-insecure-hosts or admin). */
  get hostname(): string {
    return `localhost:${this.port}`
  }

  get url(): string {
    return `http://${this.hostname}`
  }

  get subscriberCount(): number {
    return this.#subscribers.size
  }

  /** Stores a frame and sends it to every current subscriber. */
  emit(seq: number, frame: Uint8Array): void {
    this.#frames.push({ seq, frame })
    for (const ws of this.#subscribers) ws.send(frame)
  }

  /** Forgets every frame, as a PDS that reset its sequence (seqs start again from 1). */
  resetSequence(): void {
    this.#frames.length = 0
    this.disconnectAll()
  }

  /** Drops every subscriber connection (the relay reconnects from its cursor). */
  disconnectAll(): void {
    for (const ws of this.#subscribers) ws.terminate()
  }

  async close(): Promise<void> {
    for (const ws of this.#subscribers) ws.terminate()
    this.#wss.close()
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}
