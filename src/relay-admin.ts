// Wiring of the admin API (docs/admin-api.md) to the parts that own each operation: hosts and
// subscriptions (hosts/), accounts and takedowns (ingest/), consumers (fanout/), host pulls,
// resyncs and compaction (resync/, archive/), and the statistics behind the dashboard's charts. Kept apart from relay.ts so the composition root
// stays small; no rule lives here.
import type { Takedowns } from './accounts/takedowns.ts'
import { hostAdminRoutes } from './admin/host-admin.ts'
import { HostPuller, pullHostsRoutes } from './admin/pull-hosts.ts'
import { repoAdminRoutes } from './admin/repo-admin.ts'
import { resyncAdminRoutes } from './admin/resync-admin.ts'
import { subsAdminRoutes } from './admin/subs-admin.ts'
import type { Route } from './api/server.ts'
import type { RelayConfig } from './config/config.ts'
import type { Fanout } from './fanout/fanout.ts'
import type { Hosts } from './hosts/hosts.ts'
import type {
  AccountOperations,
  AccountReader,
  IdentityOperations,
} from './ingest/account-operations.ts'
import type { DropCounter } from './ingest/drop-counter.ts'
import type { Logger } from './observability/logger.ts'
import type { RelayResync } from './relay-resync.ts'
import type { RepoStatusCheck } from './upstream/repo-status.ts'

export interface AdminWiring {
  readonly config: Pick<RelayConfig, 'userAgent' | 'allowInsecureHosts'>
  readonly hosts: Hosts
  readonly ingest: Pick<AccountOperations, 'takeDown' | 'reverseTakedown'>
  readonly accounts: Pick<AccountReader, 'get'>
  readonly takedowns: Takedowns
  readonly drops: DropCounter
  readonly identity: IdentityOperations
  readonly fanout: Fanout
  readonly resync: RelayResync
  readonly checkRepoStatus: RepoStatusCheck
  readonly logger: Logger
}

export function adminRoutes(w: AdminWiring): { routes: Route[]; puller: HostPuller } {
  const puller = new HostPuller({
    userAgent: w.config.userAgent,
    isKnown: (name) => w.hosts.lookup(name) !== undefined,
    onProgress: (p) =>
      w.logger.info(
        { pull: p },
        `host pull from ${p.from}: ${p.status}, ${p.pages} pages, ${p.added} added, ${p.known} known, ${p.failed} failed`,
      ),
    // Admin rules (no daily limit), but local insecure hosts only when this relay allows them:
    // the list comes from another relay, not from an operator.
    crawl: async (hostname) => {
      await w.hosts.requestCrawl({
        hostname,
        admin: true,
        allowInsecure: w.config.allowInsecureHosts,
      })
    },
  })
  const routes = [
    ...hostAdminRoutes({ hosts: w.hosts, recentDrops: (id) => w.drops.recent(id) }),
    ...subsAdminRoutes(w.hosts),
    ...repoAdminRoutes({
      account: (did) => w.accounts.get(did),
      takeDown: (did) => w.ingest.takeDown(did),
      reverseTakedown: (did) => w.ingest.reverseTakedown(did),
      takedownPage: (cursor, limit) => w.takedowns.page(cursor, limit),
      hostname: (id) => w.hosts.get(id)?.hostname ?? null,
      drops: (did) => w.drops.forAccount(did),
      identity: {
        peek: (did) => w.identity.peek(did),
        refresh: async (did) => {
          await w.identity.purge(did)
          try {
            return (await w.identity.resolve(did)).identity
          } catch {
            return null
          }
        },
      },
      checkRepoStatus: w.checkRepoStatus,
      consumers: () => w.fanout.consumers(),
    }),
    ...pullHostsRoutes(puller),
    ...resyncAdminRoutes({
      hosts: w.hosts,
      hostResyncs: w.resync.hostResyncs,
      syncer: w.resync.syncer,
      syncHost: (name) => w.resync.syncHost(name),
      compactor: w.resync.compactor,
      archiveStatus: () => w.resync.status(),
    }),
  ]
  return { routes, puller }
}
