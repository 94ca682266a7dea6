// Wiring of the admin API (docs/admin-api.md) to the relay's parts: builds the admin routes with the
// callbacks they need. Kept apart from relay.ts so the composition root stays readable.
import type { AccountCache } from './accounts/account-cache.ts'
import type { Takedowns } from './accounts/takedowns.ts'
import { hostAdminRoutes } from './admin/host-admin.ts'
import { HostPuller, pullHostsRoutes } from './admin/pull-hosts.ts'
import { repoAdminRoutes } from './admin/repo-admin.ts'
import type { Route } from './api/server.ts'
import type { RelayConfig } from './config/config.ts'
import type { RelayDatabase } from './db/database.ts'
import type { HostRow } from './db/hosts.ts'
import type { Fanout } from './fanout/fanout.ts'
import type { HostStatusInfo } from './hosts/host-status.ts'
import { defaultLimits, type HostLimits, type HostRateLimiter } from './hosts/rate-limit.ts'
import type { HostRegistry } from './hosts/registry.ts'
import type { RelaySettings } from './hosts/settings.ts'
import type { CachingIdentityResolver } from './identity/cache.ts'
import type { DropCounter } from './ingest/drop-counter.ts'
import type { Ingest } from './ingest/ingest.ts'
import type { Logger } from './observability/logger.ts'
import type { UpstreamSet } from './relay-upstream.ts'
import { checkRepoStatus } from './upstream/repo-status.ts'

/** The limits in force for a host: its own where set, else the defaults for its account limit. */
export function hostLimits(row: HostRow): HostLimits {
  const d = defaultLimits(row.accountLimit, row.trusted)
  return {
    perSecond: row.perSecond ?? d.perSecond,
    perHour: row.perHour ?? d.perHour,
    perDay: row.perDay ?? d.perDay,
  }
}

export interface AdminWiring {
  readonly config: RelayConfig
  readonly db: RelayDatabase
  readonly hosts: HostRegistry
  readonly settings: RelaySettings
  readonly upstream: UpstreamSet
  readonly limiter: HostRateLimiter
  readonly ingest: Ingest
  readonly accounts: AccountCache
  readonly takedowns: Takedowns
  readonly drops: DropCounter
  readonly identity: CachingIdentityResolver
  readonly fanout: Fanout
  readonly checkpoint: () => Promise<void>
  readonly statusInfo: (hostId: number) => HostStatusInfo | undefined
  readonly logger: Logger
}

export function adminRoutes(w: AdminWiring): { routes: Route[]; puller: HostPuller } {
  const puller = new HostPuller({
    userAgent: w.config.userAgent,
    isKnown: (name) => w.hosts.byHostname(name.toLowerCase()) !== undefined,
    onProgress: (p) =>
      w.logger.info(
        { pull: p },
        `host pull from ${p.from}: ${p.status}, ${p.pages} pages, ${p.added} added, ${p.known} known, ${p.failed} failed`,
      ),
    crawl: async (name) => {
      // Admin rules (no daily limit), but local insecure hosts only when this relay allows them:
      // the list comes from another relay, not from an operator.
      await w.hosts.requestCrawl(name, { admin: true, allowInsecure: w.config.allowInsecureHosts })
    },
  })
  const routes = [
    ...hostAdminRoutes({
      hosts: w.hosts,
      settings: w.settings,
      syncDefault: w.config.syncValidation,
      limits: hostLimits,
      applyLimits: (row) => w.limiter.set(row.id, hostLimits(row)),
      rates: (id) => w.limiter.rates(id),
      connection: (id) => w.upstream.get(id),
      connectedHosts: () => w.upstream.connectedHosts(),
      disconnect: (id) => w.upstream.unsubscribe(id),
      resetCursor: async (row) => {
        await w.hosts.update(row.id, { cursor: null })
        w.upstream.subscribe({ ...row, cursor: null }, undefined, { fromLiveHead: true })
        w.logger.warn(
          { host: row.hostname },
          'upstream cursor reset to the live head by an operator',
        )
      },
      unthrottle: async (hostId, slots) => {
        if (slots <= 0) return 0
        // The database must hold every account's latest state before we pick the oldest.
        await w.checkpoint()
        const rows = await w.db.accounts.listByHostStatus(
          hostId,
          'throttled',
          Math.min(slots, 10_000),
        )
        let n = 0
        for (const row of rows) {
          const state = await w.ingest.setLocalStatus(row.did, 'active')
          if (state?.localStatus === 'active') n++
        }
        w.logger.info(
          { hostId, unthrottled: n },
          'account limit raised: oldest throttled accounts released',
        )
        return n
      },
      recentDrops: (id) => w.drops.recent(id),
      statusInfo: w.statusInfo,
    }),
    ...repoAdminRoutes({
      account: (did) => w.accounts.get(did),
      setLocalStatus: (did, status) => w.ingest.setLocalStatus(did, status),
      takedowns: w.takedowns,
      hostname: (id) => w.hosts.get(id)?.hostname ?? null,
      drops: (did) => w.drops.forAccount(did),
      identity: {
        peek: (did) => w.identity.peek(did),
        refresh: async (did) => {
          w.identity.purge(did)
          try {
            return (await w.identity.resolve(did)).identity
          } catch {
            return null
          }
        },
      },
      checkRepoStatus: (pds, did) => checkRepoStatus(pds, did, w.config.userAgent),
      consumers: () => w.fanout.consumers(),
    }),
    ...pullHostsRoutes(puller),
  ]
  return { routes, puller }
}
