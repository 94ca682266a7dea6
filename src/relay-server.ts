// The relay's HTTP server: the public XRPC routes, the admin routes built by relay-admin.ts, the
// dashboard's static files under /dash/, and subscribeRepos upgrades handed to fan-out (with the client address behind trusted proxies).
import type { Server } from 'node:http'
import { WebSocketServer } from 'ws'
import { accountsWithHead } from './accounts/account-rows.ts'
import { AdminAuth } from './admin/auth.ts'
import { siblingForwarder } from './admin/siblings.ts'
import { clientAddressResolver, trustedProxyCheck } from './api/client-address.ts'
import { hostRoutes } from './api/host-routes.ts'
import { repoExportRoutes } from './api/repo-export-routes.ts'
import { repoRoutes } from './api/repo-routes.ts'
import { createApiServer, type Route } from './api/server.ts'
import { subscribeParams } from './api/subscribe-params.ts'
import { syncRoutes } from './api/sync-routes.ts'
import type { MirrorReader } from './archive/mirror.ts'
import { type RelayConfig, SERVER_HEADER } from './config/config.ts'
import { serveDashboard } from './dashboard/serve.ts'
import type { RelayDatabase } from './db/database.ts'
import type { EventLog } from './eventlog/event-log.ts'
import type { Fanout } from './fanout/fanout.ts'
import type { Hosts } from './hosts/hosts.ts'
import type { AccountReader } from './ingest/account-operations.ts'
import type { DropCounter } from './ingest/drop-counter.ts'
import type { HttpGuardOptions, HttpGuardStats } from './net/http-guard.ts'
import type { HealthMonitor } from './observability/health.ts'
import type { Logger } from './observability/logger.ts'
import { inSpan, type Tracer } from './observability/tracing.ts'

export interface RelayServerParts {
  readonly config: RelayConfig
  readonly db: RelayDatabase
  readonly log: EventLog
  readonly hosts: Hosts
  readonly drops: DropCounter
  readonly accounts: AccountReader
  readonly fanout: Fanout
  /** Archival mode's mirror (getRepo, getRecord, getBlocks); undefined when it is off. */
  readonly mirror: MirrorReader | undefined
  readonly adminRoutes: readonly Route[]
  /** Every XRPC and admin handler runs in a span. */
  readonly tracer: Tracer
  /** `GET /admin/stats` (admin/stats.ts), fed by the composition root's StatsRecorder. */
  readonly statsRoutes: readonly Route[]
  readonly logger: Logger
  /** The database and event log checks behind `/xrpc/_health`. */
  readonly health: HealthMonitor
  /** HTTP timeouts (tests shorten them; defaults in api/http-guard.ts). */
  readonly httpTimeouts?: HttpTimeouts
}

export type HttpTimeouts = Pick<
  HttpGuardOptions,
  'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'stallTimeoutMs'
>

export interface RelayServer extends Server {
  readonly wss: WebSocketServer
  readonly routePaths: string[]
  /** Listens on the configured address; rejects when it cannot. */
  listenOn(bind: { readonly host: string; readonly port: number }): Promise<void>
  /** Open HTTP connections and what the guard refused (slow, idle or greedy clients). */
  httpStats(): HttpGuardStats
}

export function createRelayServer(p: RelayServerParts): RelayServer {
  const { config, db, log, hosts, drops, accounts, fanout, logger } = p
  const clientAddress = clientAddressResolver(config.trustedProxies)
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false })
  wss.on('headers', (headers) => headers.push(`Server: ${SERVER_HEADER}`))
  const routes: Route[] = [
    ...p.adminRoutes,
    ...p.statsRoutes,
    ...repoRoutes({ accounts, listPage: (after, limit) => accountsWithHead(db, after, limit) }),
    ...repoExportRoutes({
      accounts,
      mirror: p.mirror,
      hostEndpoint: (id) => {
        const h = hosts.get(id)
        return h ? `${h.ssl ? 'https' : 'http'}://${h.hostname}` : null
      },
    }),
    ...hostRoutes({
      list: () => hosts.list(),
      byHostname: (name) => hosts.lookup(name),
      recentDrops: (id) => drops.recent(id),
    }),
    ...syncRoutes({
      hosts,
      version: config.version,
      health: async () => ({ ...(await p.health.check()), seq: log.stats().lastSeq }),
    }),
  ]
  const traced = routes.map(
    (r): Route => ({
      ...r,
      handle: (req) =>
        inSpan(p.tracer, `${r.method} ${r.path}`, { 'http.route': r.path }, () => r.handle(req)),
    }),
  )
  const { server, stats } = createApiServer({
    guard: {
      maxConnectionsPerAddr: config.maxHttpConnectionsPerIp,
      isTrustedProxy: trustedProxyCheck(config.trustedProxies),
      clientAddress,
      ...p.httpTimeouts,
    },
    routes: traced,
    adminAuth: new AdminAuth(config.adminPasswords),
    onUpgrade: (req, socket, head) => {
      // A socket error before the upgrade completes (a client that resets) must not crash us.
      socket.on('error', () => socket.destroy())
      const params = subscribeParams(req.url ?? '')
      if (!params.ok) {
        socket.end(
          `HTTP/1.1 ${params.status} ${params.error}\r\nServer: ${SERVER_HEADER}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${JSON.stringify({ error: params.error, message: params.message })}`,
        )
        return
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        fanout.attach(ws, {
          cursor: params.cursor,
          remoteAddr: clientAddress(req.socket.remoteAddress ?? '', req.headers['x-forwarded-for']),
          userAgent: String(req.headers['user-agent'] ?? ''),
        })
      })
    },
    onInternalError: (err, req) => logger.error({ err, ...req }, 'internal error'),
    // The admin dashboard's static files under /dash/ (its data comes from the admin routes).
    onUnmatched: (req, res) => serveDashboard(req, res),
    onForward: siblingForwarder(config.siblingRelays, config.userAgent, (sibling, path, outcome) =>
      logger.info({ sibling, path, outcome }, 'forwarded to sibling relay'),
    ),
  })

  return Object.assign(server, {
    wss,
    routePaths: [...new Set(routes.map((r) => r.path))],
    httpStats: stats,
    listenOn: (bind: { readonly host: string; readonly port: number }) =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(bind.port, bind.host, () => {
          server.off('error', reject)
          resolve()
        })
      }),
  })
}
