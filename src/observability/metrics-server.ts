// The metrics HTTP server (`--metrics-listen`, default `:2471`): `GET /metrics` (and HEAD)
// answers the registry in Prometheus text format; any other path is 404, another method on
// /metrics 405. Every response carries the relay's `Server` header (docs/design.md §4 item 5).
// The same guard as the API's cuts off slow and idle clients and caps connections per address
// (a Prometheus server needs one or two); scrapes themselves are not rate limited.
// Deliberately not here: what is measured (metrics.ts), authentication (put the port on a
// private interface or behind a proxy), TLS.
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import { SERVER_HEADER } from '../config/config.ts'
import { guardedServer } from '../net/http-guard.ts'

/** Connections one address may hold to the metrics port. */
const MAX_CONNECTIONS_PER_ADDR = 16

export class MetricsServerError extends Error {
  override readonly name = 'MetricsServerError'
  readonly code: 'listen-failed'

  constructor(code: 'listen-failed', message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
  }
}

export interface MetricsServer extends AsyncDisposable {
  address(): AddressInfo
  /** Stops listening and closes open connections (scrapers keep theirs alive). */
  close(): Promise<void>
}

export interface MetricsServerOptions {
  readonly serverHeader?: string
  /** Told when producing the metrics text fails (the scrape gets 500) or the server errs. */
  readonly onError?: (err: unknown) => void
}

export async function startMetricsServer(
  registry: Registry,
  listen: { readonly host: string; readonly port: number },
  options: MetricsServerOptions = {},
): Promise<MetricsServer> {
  const serverHeader = options.serverHeader ?? SERVER_HEADER
  const { server } = guardedServer(
    { serverHeader, maxConnectionsPerAddr: MAX_CONNECTIONS_PER_ADDR },
    (req, res) => {
      res.setHeader('Server', serverHeader)
      const path = (req.url ?? '/').split('?', 1)[0]
      if (path !== '/metrics') {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' })
        res.end('not found: metrics are at /metrics\n')
        return
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { 'Content-Type': 'text/plain; charset=utf-8', Allow: 'GET, HEAD' })
        res.end('use GET\n')
        return
      }
      registry.metrics().then(
        (text) => {
          res.writeHead(200, {
            'Content-Type': registry.contentType,
            'Content-Length': Buffer.byteLength(text),
          })
          res.end(req.method === 'HEAD' ? undefined : text)
        },
        (err: unknown) => {
          options.onError?.(err)
          res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' })
          res.end('collecting metrics failed\n')
        },
      )
    },
  )
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(listen.port, listen.host, () => {
        server.off('error', reject)
        server.on('error', (err) => options.onError?.(err))
        resolve()
      })
    })
  } catch (err) {
    throw new MetricsServerError(
      'listen-failed',
      `metrics server cannot listen on ${listen.host}:${listen.port}: ${(err as Error).message}`,
      { cause: err },
    )
  }
  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    })
    return closing
  }
  return {
    address: () => server.address() as AddressInfo,
    close,
    [Symbol.asyncDispose]: close,
  }
}
