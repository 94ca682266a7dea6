// A fake PDS for tests: a `ws` server on 127.0.0.1, port 0, serving any path, that hands each
// accepted subscription to the test, which then drives it (send frames, close, watch for the
// client closing). Optionally answers with a given `Server` header or without pongs.
// Deliberately not a real PDS: no XRPC, no sequencing of its own, no backfill.
import type { IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type WebSocket, WebSocketServer } from 'ws'

export interface FakePdsOptions {
  /** Value of the `Server` response header on the upgrade. */
  readonly serverHeader?: string
  /** Answer pings with pongs (default true). */
  readonly autoPong?: boolean
}

export interface FakeSubscription {
  readonly socket: WebSocket
  readonly url: URL
  readonly request: IncomingMessage
  /** The `cursor` query parameter, or null. */
  readonly cursor: string | null
  /** Resolves when the socket is closed (by either side). */
  readonly closed: Promise<{ code: number }>
  send(frame: Uint8Array): Promise<void>
}

export class FakePds {
  readonly hostname: string
  readonly #server: WebSocketServer
  readonly #waiting: ((s: FakeSubscription) => void)[] = []
  readonly #arrived: FakeSubscription[] = []
  readonly all: FakeSubscription[] = []

  private constructor(server: WebSocketServer) {
    this.#server = server
    const addr = server.address() as AddressInfo
    this.hostname = `127.0.0.1:${addr.port}`
    server.on('connection', (socket, request) => this.#accept(socket, request))
  }

  static async start(opts: FakePdsOptions = {}): Promise<FakePds> {
    const server = new WebSocketServer({
      host: '127.0.0.1',
      port: 0,
      autoPong: opts.autoPong ?? true,
      perMessageDeflate: false,
    })
    if (opts.serverHeader !== undefined) {
      const value = opts.serverHeader
      server.on('headers', (headers) => headers.push(`Server: ${value}`))
    }
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve)
      server.once('error', reject)
    })
    return new FakePds(server)
  }

  /** The next subscription accepted (or the oldest not yet taken). */
  next(timeoutMs = 5_000): Promise<FakeSubscription> {
    const ready = this.#arrived.shift()
    if (ready !== undefined) return Promise.resolve(ready)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = this.#waiting.indexOf(take)
        if (i >= 0) this.#waiting.splice(i, 1)
        reject(new Error('no subscription arrived in time'))
      }, timeoutMs)
      const take = (s: FakeSubscription): void => {
        clearTimeout(timer)
        resolve(s)
      }
      this.#waiting.push(take)
    })
  }

  async close(): Promise<void> {
    for (const s of this.all) s.socket.terminate()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  #accept(socket: WebSocket, request: IncomingMessage): void {
    const url = new URL(request.url ?? '/', `ws://${this.hostname}`)
    const closed = new Promise<{ code: number }>((resolve) =>
      socket.once('close', (code) => resolve({ code })),
    )
    const sub: FakeSubscription = {
      socket,
      url,
      request,
      cursor: url.searchParams.get('cursor'),
      closed,
      send: (frame) =>
        new Promise<void>((resolve, reject) =>
          socket.send(frame, { binary: true }, (err) => (err ? reject(err) : resolve())),
        ),
    }
    this.all.push(sub)
    const waiter = this.#waiting.shift()
    if (waiter !== undefined) waiter(sub)
    else this.#arrived.push(sub)
  }
}
