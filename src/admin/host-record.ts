// The host record of `GET /admin/pds/list` (docs/admin-api.md): a host as an operator sees it,
// in the field names existing relay tooling reads (capitalised, from the original relay), plus
// what this relay adds (status reason, retry time, the last connection error, current rates,
// sync validation, recent drop reasons).
// Deliberately not here: any rule (the host detail comes from hosts/), routes.
import type { HostDetail } from '../hosts/host-view.ts'
import type { RecentDrop } from '../ingest/drop-counter.ts'

const iso = (ms: number | null | undefined) => (ms == null ? null : new Date(ms).toISOString())

export function hostRecord(h: HostDetail, drops: readonly RecentDrop[]) {
  const info = h.statusInfo
  const last = drops[0]
  return {
    ID: h.id,
    CreatedAt: h.createdAt,
    Host: h.hostname,
    Did: '',
    SSL: h.ssl,
    Cursor: h.cursor ?? 0,
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
    RateLimit: h.limits.perSecond,
    CrawlRateLimit: h.crawlRate,
    RepoCount: h.accountCount,
    RepoLimit: h.accountLimit,
    HourlyEventLimit: h.limits.perHour,
    DailyEventLimit: h.limits.perDay,
    HasActiveConnection: h.connection?.connected ?? false,
    EventsSeenSinceStartup: h.connection?.framesReceived ?? 0,
    PerSecondEventRate: { Max: h.limits.perSecond, Window: 1 },
    PerHourEventRate: { Max: h.limits.perHour, Window: 3600 },
    PerDayEventRate: { Max: h.limits.perDay, Window: 86400 },
    CrawlRate: { Max: h.crawlRate, Window: 1 },
    CurrentRates: h.rates,
    UserCount: h.accountCount,
    SyncValidation: h.sync,
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
