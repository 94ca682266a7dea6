// A TCP proxy on loopback that a test can cut and restore, standing between the relay and its
// PostgreSQL server: `cut` resets every open connection and every new one (as a database that
// crashed or a network that failed), `restore` lets connections through again. The server
// itself is never touched, so tests sharing it are unaffected.
import { connect, createServer, type Server, type Socket } from 'node:net'

export class TcpProxy {
  readonly #server: Server
  readonly #pairs = new Set<[Socket, Socket]>()
  #down = false
  cuts = 0

  private constructor(server: Server) {
    this.#server = server
  }

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    const server = createServer()
    const proxy = new TcpProxy(server)
    server.on('connection', (client) => {
      client.on('error', () => {})
      if (proxy.#down) {
        client.resetAndDestroy()
        return
      }
      const upstream = connect(targetPort, targetHost)
      upstream.on('error', () => client.destroy())
      const pair: [Socket, Socket] = [client, upstream]
      proxy.#pairs.add(pair)
      const end = () => {
        proxy.#pairs.delete(pair)
        client.destroy()
        upstream.destroy()
      }
      client.on('close', end)
      upstream.on('close', end)
      client.pipe(upstream)
      upstream.pipe(client)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return proxy
  }

  get port(): number {
    const a = this.#server.address()
    if (a === null || typeof a === 'string') throw new Error('not listening')
    return a.port
  }

  get open(): number {
    return this.#pairs.size
  }

  /** Every connection reset, now and until `restore`. */
  cut(): void {
    this.#down = true
    this.cuts++
    for (const [client, upstream] of this.#pairs) {
      client.resetAndDestroy()
      upstream.destroy()
    }
    this.#pairs.clear()
  }

  restore(): void {
    this.#down = false
  }

  async close(): Promise<void> {
    this.cut()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }
}
