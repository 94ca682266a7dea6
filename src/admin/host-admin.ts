// Admin routes about hosts (docs/admin-api.md "Hosts" and "Upstream subscriptions"): list with live
// rates, limits and drop reasons; changeLimits; block/unblock; killUpstream; trusted domains;
// resetCursor; the public-crawl switch and per-day limit; domain bans. Route shapes only: the
// rules live in hosts/ (registry, settings) and the composition root's callbacks.
import { invalidRequest, XrpcError } from '../api/errors.ts'
import type { ApiRequest, Route } from '../api/server.ts'
import type { HostRow } from '../db/hosts.ts'
import { InvalidHostnameError } from '../hosts/errors.ts'
import type { HostStatusInfo } from '../hosts/host-status.ts'
import { isDomainBanned, isTrustedDomain, normalizeHostname } from '../hosts/hostname.ts'
import type { HostLimits } from '../hosts/rate-limit.ts'
import type { HostRegistry } from '../hosts/registry.ts'
import type { RelaySettings } from '../hosts/settings.ts'
import type { SyncMode } from '../hosts/sync-ratchet.ts'
import type { RecentDrop } from '../ingest/drop-counter.ts'
import {
  bodyObject,
  domainValue,
  optionalCount,
  queryBool,
  queryCount,
  queryString,
} from './inputs.ts'

export interface HostAdminDeps {
  readonly hosts: HostRegistry
  readonly settings: RelaySettings
  readonly syncDefault: SyncMode
  /** The limits in force for a host (its own, or the defaults for its account limit). */
  readonly limits: (row: HostRow) => HostLimits
  /** Applies a host's (new) limits to the running rate limiter. */
  readonly applyLimits: (row: HostRow) => void
  readonly rates: (hostId: number) => { perSecond: number; perHour: number; perDay: number }
  readonly connection: (
    hostId: number,
  ) => { connected: boolean; cursor: number | null; stats: { framesReceived: number } } | undefined
  readonly connectedHosts: () => number[]
  readonly disconnect: (hostId: number) => Promise<void>
  readonly resetCursor: (row: HostRow) => Promise<void>
  /** After a raised account limit: un-throttles up to `slots` accounts, oldest first. */
  readonly unthrottle: (hostId: number, slots: number) => Promise<number>
  readonly recentDrops: (hostId: number) => readonly RecentDrop[]
  /** What the status machine knows of the host's connection (retries, last error). */
  readonly statusInfo: (hostId: number) => HostStatusInfo | undefined
}

const ok = { json: { success: 'true' } }

function hostFrom(d: HostAdminDeps, req: ApiRequest, fromBody = false): HostRow {
  const raw = fromBody ? bodyObject(req).host : queryString(req, 'host')
  if (typeof raw !== 'string' || raw === '') throw invalidRequest('"host" is required')
  // The same normalisation as requestCrawl's (the registry's key), so a name that could never be
  // registered is a 400 rather than a 404.
  let name: string
  try {
    name = normalizeHostname(raw, { allowInsecure: true }).hostname
  } catch (err) {
    if (err instanceof InvalidHostnameError) throw invalidRequest(`"host": ${err.message}`)
    throw err
  }
  const row = d.hosts.byHostname(name)
  if (!row)
    throw new XrpcError(
      404,
      'HostNotFound',
      `host ${name.slice(0, 200)} is not known to this relay`,
    )
  return row
}

/**
 * Disconnects hosts (through `stop`) and keeps the cursor each connection reached in the
 * registry, so a later unblock or crawl request resumes from there: the registry's row otherwise
 * holds only the cursor of the last start, and checkpoints save cursors of live connections only.
 */
async function stopKeepingCursors<T>(
  d: HostAdminDeps,
  rows: readonly HostRow[],
  stop: () => Promise<T>,
): Promise<T> {
  const conns = rows.map((row) => [row.id, d.connection(row.id)] as const)
  const result = await stop()
  for (const [id, conn] of conns) {
    const cursor = conn?.cursor ?? null
    if (cursor !== null && cursor !== d.hosts.get(id)?.cursor) await d.hosts.update(id, { cursor })
  }
  return result
}

function hostRecord(d: HostAdminDeps, h: HostRow) {
  const limits = d.limits(h)
  const conn = d.connection(h.id)
  const drops = d.recentDrops(h.id)
  const last = drops[0]
  const mode = h.syncMode ?? d.syncDefault
  const info = d.statusInfo(h.id)
  const iso = (ms: number | null | undefined) => (ms == null ? null : new Date(ms).toISOString())
  return {
    ID: h.id,
    CreatedAt: h.createdAt,
    Host: h.hostname,
    Did: '',
    SSL: h.ssl,
    Cursor: conn?.cursor ?? h.cursor ?? 0,
    Registered: true,
    Blocked: h.status === 'banned',
    Trusted: h.trusted,
    Status: h.status,
    StatusReason: h.statusReason,
    // When an offline host is tried again, and why its connection last failed.
    NextRetryAt: iso(info?.nextRetryAt),
    ConsecutiveFailures: info?.consecutiveFailures ?? 0,
    LastConnectionError: info?.lastError
      ? { message: info.lastError, at: iso(info.lastErrorAt) }
      : null,
    RateLimit: limits.perSecond,
    CrawlRateLimit: h.crawlRate ?? 5,
    RepoCount: h.accountCount,
    RepoLimit: h.accountLimit,
    HourlyEventLimit: limits.perHour,
    DailyEventLimit: limits.perDay,
    HasActiveConnection: conn?.connected ?? false,
    EventsSeenSinceStartup: conn?.stats.framesReceived ?? 0,
    PerSecondEventRate: { Max: limits.perSecond, Window: 1 },
    PerHourEventRate: { Max: limits.perHour, Window: 3600 },
    PerDayEventRate: { Max: limits.perDay, Window: 86400 },
    CrawlRate: { Max: h.crawlRate ?? 5, Window: 1 },
    CurrentRates: d.rates(h.id),
    UserCount: h.accountCount,
    SyncValidation: {
      mode,
      effective: mode === 'auto' ? h.syncEffective : mode,
      pinned: h.syncMode !== null,
    },
    LastError: last
      ? { reason: last.reason, at: new Date(last.lastAt).toISOString(), did: last.lastDid }
      : null,
    RecentDrops: drops.map((x) => ({
      reason: x.reason,
      count1h: x.count1h,
      count24h: x.count24h,
      lastAt: new Date(x.lastAt).toISOString(),
    })),
  }
}

/** After the trusted domains change: every host gets the trust (and default limits) they imply. */
async function retrust(d: HostAdminDeps): Promise<void> {
  const patterns = d.settings.trustedDomains.value
  for (const row of d.hosts.list()) {
    const trusted = isTrustedDomain(row.hostname, patterns)
    if (trusted === row.trusted) continue
    await d.hosts.update(row.id, { trusted })
    d.applyLimits(d.hosts.get(row.id)!)
  }
}

const SYNC_MODES = new Set(['auto', 'strict', 'lenient'])
const MAX_RATE = 1_000_000_000

/** The largest upstream seq a start cursor may name. */
const MAX_CURSOR = Number.MAX_SAFE_INTEGER

export function hostAdminRoutes(d: HostAdminDeps): Route[] {
  return [
    {
      method: 'POST',
      path: '/admin/pds/requestCrawl',
      forward: true,
      admin: true,
      handle: async (req) => {
        const body = bodyObject(req)
        const hostname = body.hostname
        if (typeof hostname !== 'string' || hostname === '' || hostname.length > 512)
          throw invalidRequest('"hostname" must be a non-empty string of at most 512 characters')
        const cursor = optionalCount(body, 'cursor', MAX_CURSOR)
        const { host, created } = await d.hosts.requestCrawl(hostname, { admin: true, cursor })
        return {
          json: {
            success: 'true',
            host: host.hostname,
            cursor: d.connection(host.id)?.cursor ?? host.cursor,
            message: !created
              ? `${host.hostname} was already known: it continues from its stored cursor`
              : cursor === undefined
                ? `${host.hostname} is followed from its live head: events it emitted before now are not relayed (give "cursor": 0 to start from the oldest event it still holds)`
                : `${host.hostname} is followed from after its seq ${cursor}`,
          },
        }
      },
    },
    {
      method: 'GET',
      path: '/admin/pds/list',
      admin: true,
      handle: () => ({
        json: d.hosts
          .list()
          .sort((a, b) => a.id - b.id)
          .map((h) => hostRecord(d, h)),
      }),
    },
    {
      method: 'POST',
      path: '/admin/pds/changeLimits',
      admin: true,
      forward: true,
      handle: async (req) => {
        // The whole body is checked first (400 naming the field), then the host looked up (404).
        const body = bodyObject(req)
        const perSecond = optionalCount(body, 'per_second', MAX_RATE)
        const perHour = optionalCount(body, 'per_hour', MAX_RATE)
        const perDay = optionalCount(body, 'per_day', MAX_RATE)
        const crawlRate = optionalCount(body, 'crawl_rate', MAX_RATE)
        const repoLimit = optionalCount(body, 'repo_limit', MAX_RATE)
        const sync = body.sync_validation
        if (
          sync !== undefined &&
          sync !== null &&
          (typeof sync !== 'string' || !SYNC_MODES.has(sync))
        ) {
          throw invalidRequest('"sync_validation" must be auto, strict or lenient')
        }
        for (const [name, v] of [
          ['per_second', perSecond],
          ['per_hour', perHour],
          ['per_day', perDay],
        ] as const) {
          if (v === 0) throw invalidRequest(`"${name}" must be at least 1 (an event limit)`)
        }
        const row = hostFrom(d, req, true)
        await d.hosts.update(row.id, {
          ...(perSecond !== undefined ? { perSecond } : {}),
          ...(perHour !== undefined ? { perHour } : {}),
          ...(perDay !== undefined ? { perDay } : {}),
          ...(crawlRate !== undefined ? { crawlRate } : {}),
          ...(repoLimit !== undefined ? { accountLimit: repoLimit } : {}),
          ...(typeof sync === 'string' ? { syncMode: sync as SyncMode } : {}),
        })
        const updated = d.hosts.get(row.id)!
        d.applyLimits(updated)
        if (repoLimit !== undefined && repoLimit > row.accountLimit) {
          await d.unthrottle(row.id, Math.max(0, repoLimit - updated.accountCount))
        }
        return ok
      },
    },
    {
      method: 'POST',
      path: '/admin/pds/block',
      admin: true,
      forward: true,
      handle: async (req) => {
        const row = hostFrom(d, req)
        await stopKeepingCursors(d, [row], () => d.hosts.block(row.id, 'blocked by an operator'))
        return ok
      },
    },
    {
      method: 'POST',
      path: '/admin/pds/unblock',
      admin: true,
      forward: true,
      handle: async (req) => {
        await d.hosts.unblock(hostFrom(d, req).id)
        return ok
      },
    },
    {
      method: 'POST',
      path: '/admin/pds/resetCursor',
      admin: true,
      forward: true,
      handle: async (req) => {
        const row = hostFrom(d, req)
        // A blocked host only forgets its cursor; it stays disconnected until unblocked.
        if (row.status === 'banned') await d.hosts.update(row.id, { cursor: null })
        else await d.resetCursor(row)
        return ok
      },
    },
    {
      method: 'POST',
      path: '/admin/subs/killUpstream',
      admin: true,
      forward: true,
      handle: async (req) => {
        const row = hostFrom(d, req)
        const block = queryBool(req, 'block', false) ?? false
        await stopKeepingCursors(d, [row], () =>
          block
            ? d.hosts.block(row.id, 'blocked by an operator (killUpstream)')
            : d.disconnect(row.id),
        )
        return ok
      },
    },
    {
      method: 'GET',
      path: '/admin/subs/getUpstreamConns',
      admin: true,
      handle: () => ({
        json: d
          .connectedHosts()
          .map((id) => d.hosts.get(id)?.hostname)
          .filter((h) => h !== undefined),
      }),
    },
    {
      method: 'GET',
      path: '/admin/subs/perDayLimit',
      admin: true,
      handle: () => ({
        json: {
          limit: d.settings.newHostsPerDayLimit.value,
          source: d.settings.newHostsPerDayLimit.source,
        },
      }),
    },
    {
      method: 'POST',
      path: '/admin/subs/setPerDayLimit',
      admin: true,
      forward: true,
      handle: async (req) => {
        await d.settings.setNewHostsPerDayLimit(queryCount(req, 'limit', 1_000_000))
        return ok
      },
    },
    {
      method: 'GET',
      path: '/admin/subs/getEnabled',
      admin: true,
      handle: () => ({
        json: {
          enabled: d.settings.publicCrawlEnabled.value,
          source: d.settings.publicCrawlEnabled.source,
        },
      }),
    },
    {
      method: 'POST',
      path: '/admin/subs/setEnabled',
      admin: true,
      forward: true,
      handle: async (req) => {
        await d.settings.setPublicCrawlEnabled(queryBool(req, 'enabled', true)!)
        return ok
      },
    },
    {
      method: 'GET',
      path: '/admin/subs/listDomainBans',
      admin: true,
      handle: () => ({ json: { banned_domains: d.settings.bannedDomains } }),
    },
    {
      method: 'POST',
      path: '/admin/subs/banDomain',
      admin: true,
      forward: true,
      handle: async (req) => {
        const body = bodyObject(req)
        const domain = domainValue(body.Domain ?? body.domain, 'Domain')
        await d.settings.banDomain(domain)
        const matching = d.hosts
          .list()
          .filter((h) => h.status !== 'banned' && isDomainBanned(h.hostname, [domain]))
        const disconnected = await stopKeepingCursors(d, matching, () =>
          d.hosts.applyDomainBan(domain),
        )
        return { json: { success: 'true', disconnected } }
      },
    },
    {
      method: 'POST',
      path: '/admin/subs/unbanDomain',
      admin: true,
      forward: true,
      handle: async (req) => {
        const body = bodyObject(req)
        const domain = domainValue(body.Domain ?? body.domain, 'Domain')
        if (!(await d.settings.unbanDomain(domain)))
          throw new XrpcError(404, 'NotFound', `${domain} is not banned`)
        for (const row of d.hosts.list()) {
          if (row.status === 'banned' && row.statusReason === `domain ${domain} is banned`)
            await d.hosts.unblock(row.id)
        }
        return ok
      },
    },
    {
      method: 'GET',
      path: '/admin/pds/trustedDomains',
      admin: true,
      handle: () => ({
        json: {
          trusted_domains: d.settings.trustedDomains.value,
          source: d.settings.trustedDomains.source,
        },
      }),
    },
    {
      method: 'POST',
      path: '/admin/pds/addTrustedDomain',
      admin: true,
      forward: true,
      handle: async (req) => {
        await d.settings.addTrustedDomain(domainValue(req.query.get('domain'), 'domain'))
        await retrust(d)
        return ok
      },
    },
    {
      method: 'POST',
      path: '/admin/pds/removeTrustedDomain',
      admin: true,
      forward: true,
      handle: async (req) => {
        const domain = domainValue(req.query.get('domain'), 'domain')
        if (!(await d.settings.removeTrustedDomain(domain)))
          throw new XrpcError(404, 'NotFound', `${domain} is not a trusted domain`)
        await retrust(d)
        return ok
      },
    },
  ]
}
