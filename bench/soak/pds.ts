// The soak's PDS on loopback: like test/support/fake-pds.ts (subscribeRepos from a cursor, then
// live; describeServer for the crawl probe; every account active; getRepo and listRepos when
// given), but it runs for hours, so it keeps only the newest `keep` frames for reconnections,
// and a subscriber that stops reading with more than `maxBufferedBytes` queued is cut off (it
// comes back with its cursor) instead of the PDS buffering without limit. Hostile hosts also
// send frames that are never kept (garbage) and drop every connection now and then.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type WebSocket, WebSocketServer } from 'ws'

export interface SoakPdsOptions {
  /** Frames kept for subscribers that reconnect with a cursor (default 20,000). */
  readonly keep?: number
  /** Per subscriber; over it the subscriber is cut off (default 32 MiB). */
  readonly maxBufferedBytes?: number
  /** Serves `getRepo` (a repo's CAR; undefined: no such repo). Without it: 404. */
  readonly getRepo?: (did: string) => Promise<Uint8Array | undefined>
  /** Serves `listRepos` (a page after `cursor`). Without it: 404. */
  readonly listRepos?: (cursor: string | null, limit: number) => unknown
}

export class SoakPds {
  readonly #server: Server
  readonly #wss = new WebSocketServer({ noServer: true })
  readonly #keep: number
  readonly #maxBuffered: number
  /** A ring of the newest frames, oldest at `#head`. */
  readonly #ring: { seq: number; frame: Uint8Array }[] = []
  #head = 0
  readonly #subscribers = new Set<WebSocket>()
  lastSeq = 0
  subscriptions = 0
  cutOff = 0

  private constructor(server: Server, opts: SoakPdsOptions) {
    this.#server = server
    this.#keep = opts.keep ?? 20_000
    this.#maxBuffered = opts.maxBufferedBytes ?? 32 << 20
  }

  static async start(opts: SoakPdsOptions = {}): Promise<SoakPds> {
    const server = createServer()
    const pds = new SoakPds(server, opts)
    server.on('request', (req, res) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (url.pathname === '/xrpc/com.atproto.server.describeServer') {
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end(JSON.stringify({ did: 'did:web:localhost', availableUserDomains: [] }))
      }
      if (url.pathname === '/xrpc/com.atproto.sync.getRepo' && opts.getRepo) {
        const did = url.searchParams.get('did') ?? ''
        opts.getRepo(did).then(
          (car) => {
            if (car === undefined) {
              res.writeHead(400, { 'content-type': 'application/json' })
              return res.end(JSON.stringify({ error: 'RepoNotFound', message: did }))
            }
            res.writeHead(200, { 'content-type': 'application/vnd.ipld.car' })
            res.end(car)
          },
          (err: unknown) => {
            res.writeHead(500, { 'content-type': 'application/json' })
            res.end(JSON.stringify({ error: 'InternalServerError', message: String(err) }))
          },
        )
        return
      }
      if (url.pathname === '/xrpc/com.atproto.sync.listRepos' && opts.listRepos) {
        const limit = Math.min(1000, Number(url.searchParams.get('limit') ?? 500) || 500)
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end(JSON.stringify(opts.listRepos(url.searchParams.get('cursor'), limit)))
      }
      if (url.pathname === '/xrpc/com.atproto.sync.getRepoStatus') {
        const did = url.searchParams.get('did') ?? ''
        res.writeHead(200, { 'content-type': 'application/json' })
        return res.end(JSON.stringify({ did, active: true }))
      }
      res.writeHead(404).end()
    })
    server.on('upgrade', (req, socket, head) => {
      const url = new URL(req.url ?? '/', 'http://x')
      if (url.pathname !== '/xrpc/com.atproto.sync.subscribeRepos') return socket.destroy()
      const cursor = url.searchParams.get('cursor')
      pds.subscriptions++
      pds.#wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('error', () => {})
        if (cursor !== null) for (const f of pds.#since(Number(cursor))) ws.send(f)
        pds.#subscribers.add(ws)
        ws.on('close', () => pds.#subscribers.delete(ws))
      })
    })
    await new Promise<void>((resolve) => server.listen(0, 'localhost', resolve))
    return pds
  }

  /** `localhost:PORT`, the hostname the relay crawls. */
  get hostname(): string {
    return `localhost:${(this.#server.address() as AddressInfo).port}`
  }

  get subscriberCount(): number {
    return this.#subscribers.size
  }

  *#since(cursor: number): Iterable<Uint8Array> {
    for (let i = 0; i < this.#ring.length; i++) {
      const f = this.#ring[(this.#head + i) % this.#ring.length]!
      if (f.seq > cursor) yield f.frame
    }
  }

  /** Keeps a frame with its seq and sends it to every subscriber. */
  emit(seq: number, frame: Uint8Array): void {
    this.lastSeq = seq
    if (this.#ring.length < this.#keep) this.#ring.push({ seq, frame })
    else {
      this.#ring[this.#head] = { seq, frame }
      this.#head = (this.#head + 1) % this.#keep
    }
    this.sendRaw(frame)
  }

  /** Sends bytes to every subscriber without keeping them (a reconnection never sees them). */
  sendRaw(frame: Uint8Array): void {
    for (const ws of this.#subscribers) {
      if (ws.bufferedAmount > this.#maxBuffered) {
        this.cutOff++
        ws.terminate()
        continue
      }
      ws.send(frame)
    }
  }

  /** Drops every subscriber (the relay reconnects with its cursor). */
  disconnectAll(): void {
    for (const ws of this.#subscribers) ws.terminate()
  }

  async close(): Promise<void> {
    this.disconnectAll()
    this.#wss.close()
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}
