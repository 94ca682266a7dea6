// Public routes: `GET /` (a banner), `GET /xrpc/_health` (database and event log) and
// `POST /xrpc/com.atproto.sync.requestCrawl` (the admin one is in admin/host-admin.ts).
// `subscribeRepos` is a WebSocket upgrade handled by the composition root (fanout/).
import type { CrawlRequest } from '../hosts/crawl.ts'
import type { HealthReport } from '../observability/health.ts'
import { invalidRequest, XrpcError } from './errors.ts'
import type { ApiRequest, Route } from './server.ts'

export interface SyncRouteDeps {
  readonly hosts: { requestCrawl(req: CrawlRequest): Promise<unknown> }
  /** The parts' health (which one fails and a short public reason) and the last output seq. */
  readonly health: () => Promise<HealthReport & { readonly seq: number }>
  readonly version: string
}

function hostnameFrom(req: ApiRequest): string {
  const body = req.body
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidRequest('body must be a JSON object with a "hostname" string')
  }
  const hostname = (body as Record<string, unknown>).hostname
  if (typeof hostname !== 'string' || hostname.length === 0)
    throw invalidRequest('"hostname" must be a non-empty string')
  if (hostname.length > 512) throw invalidRequest('"hostname" is too long')
  return hostname
}

export function syncRoutes(deps: SyncRouteDeps): Route[] {
  return [
    {
      method: 'GET',
      path: '/',
      handle: () => ({
        text: `This is an atproto relay (atproto-relay ${deps.version}).\n\nFirehose: /xrpc/com.atproto.sync.subscribeRepos\nMore: https://atproto.com\n`,
      }),
    },
    {
      method: 'GET',
      path: '/xrpc/_health',
      handle: async () => {
        const h = await deps.health()
        return {
          status: h.ok ? 200 : 503,
          json: {
            status: h.ok ? 'ok' : 'error',
            version: deps.version,
            seq: String(h.seq),
            checks: h.checks,
            ...(h.message !== undefined ? { message: h.message } : {}),
          },
        }
      },
    },
    {
      method: 'POST',
      path: '/xrpc/com.atproto.sync.requestCrawl',
      forward: true,
      handle: async (req) => {
        await deps.hosts.requestCrawl({ hostname: hostnameFrom(req), admin: false })
        return { json: {} }
      },
    },
    {
      method: 'GET',
      path: '/xrpc/com.atproto.sync.subscribeRepos',
      handle: () => {
        throw new XrpcError(426, 'UpgradeRequired', 'subscribeRepos is a WebSocket endpoint')
      },
    },
  ]
}
