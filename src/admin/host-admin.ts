// Admin routes about hosts (docs/admin-api.md "Hosts"): request crawl, the host list, limits,
// block and unblock, cursor reset, trusted domains. Each route parses its input, calls the one
// operation of the hosts part (hosts/hosts.ts) that applies the rule, and answers.
import { invalidRequest, XrpcError } from '../api/errors.ts'
import type { ApiRequest, Route } from '../api/server.ts'
import { InvalidHostnameError } from '../hosts/errors.ts'
import type { HostView } from '../hosts/host-view.ts'
import type { Hosts, LimitsChange } from '../hosts/hosts.ts'
import { SYNC_MODES, type SyncMode } from '../hosts/sync-ratchet.ts'
import type { RecentDrop } from '../ingest/drop-counter.ts'
import { hostRecord } from './host-record.ts'
import { bodyObject, domainValue, optionalCount, queryString } from './inputs.ts'

export interface HostAdminDeps {
  readonly hosts: Hosts
  readonly recentDrops: (hostId: number) => readonly RecentDrop[]
}

export const ok = { json: { success: 'true' } }

/** The known host a `host` parameter (query, or body with `fromBody`) names: 400 or 404 if none. */
export function hostParam(hosts: Hosts, req: ApiRequest, fromBody = false): HostView {
  const raw = fromBody ? bodyObject(req).host : queryString(req, 'host')
  if (typeof raw !== 'string' || raw === '') throw invalidRequest('"host" is required')
  try {
    return hosts.find(raw)
  } catch (err) {
    // A name that could never be registered is a 400 rather than a 404.
    if (err instanceof InvalidHostnameError) throw invalidRequest(`"host": ${err.message}`)
    throw err
  }
}

const MAX_RATE = 1_000_000_000
/** The largest upstream seq a start cursor may name. */
const MAX_CURSOR = Number.MAX_SAFE_INTEGER

/** The change a changeLimits body asks for; 400 naming the first field that is wrong. */
function limitsChange(body: Record<string, unknown>): LimitsChange {
  const perSecond = optionalCount(body, 'per_second', MAX_RATE)
  const perHour = optionalCount(body, 'per_hour', MAX_RATE)
  const perDay = optionalCount(body, 'per_day', MAX_RATE)
  const crawlRate = optionalCount(body, 'crawl_rate', MAX_RATE)
  const accountLimit = optionalCount(body, 'repo_limit', MAX_RATE)
  const sync = body.sync_validation
  if (sync !== undefined && sync !== null && !(SYNC_MODES as readonly unknown[]).includes(sync))
    throw invalidRequest('"sync_validation" must be auto, strict or lenient')
  for (const [name, v] of [
    ['per_second', perSecond],
    ['per_hour', perHour],
    ['per_day', perDay],
  ] as const) {
    if (v === 0) throw invalidRequest(`"${name}" must be at least 1 (an event limit)`)
  }
  return {
    ...(perSecond !== undefined ? { perSecond } : {}),
    ...(perHour !== undefined ? { perHour } : {}),
    ...(perDay !== undefined ? { perDay } : {}),
    ...(crawlRate !== undefined ? { crawlRate } : {}),
    ...(accountLimit !== undefined ? { accountLimit } : {}),
    ...(typeof sync === 'string' ? { syncMode: sync as SyncMode } : {}),
  }
}

export function hostAdminRoutes(d: HostAdminDeps): Route[] {
  const { hosts } = d
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
        const { host, created } = await hosts.requestCrawl({ hostname, admin: true, cursor })
        const message = !created
          ? `${host.hostname} was already known: it continues from its stored cursor`
          : cursor === undefined
            ? `${host.hostname} is followed from its live head: events it emitted before now are not relayed (give "cursor": 0 to start from the oldest event it still holds)`
            : `${host.hostname} is followed from after its seq ${cursor}`
        return { json: { success: 'true', host: host.hostname, cursor: host.cursor, message } }
      },
    },
    {
      method: 'GET',
      path: '/admin/pds/list',
      admin: true,
      handle: () => ({
        json: hosts.list().map((h) => hostRecord(hosts.describe(h.id)!, d.recentDrops(h.id))),
      }),
    },
    {
      method: 'POST',
      path: '/admin/pds/changeLimits',
      admin: true,
      forward: true,
      handle: async (req) => {
        // The whole body is checked first (400 naming the field), then the host looked up (404).
        const change = limitsChange(bodyObject(req))
        await hosts.changeLimits(hostParam(hosts, req, true).id, change)
        return ok
      },
    },
    {
      method: 'POST',
      path: '/admin/pds/block',
      admin: true,
      forward: true,
      handle: async (req) => {
        await hosts.block(hostParam(hosts, req).id, { kind: 'operator' })
        return ok
      },
    },
    {
      method: 'POST',
      path: '/admin/pds/unblock',
      admin: true,
      forward: true,
      handle: async (req) => {
        await hosts.unblock(hostParam(hosts, req).id)
        return ok
      },
    },
    {
      method: 'POST',
      path: '/admin/pds/resetCursor',
      admin: true,
      forward: true,
      handle: async (req) => {
        await hosts.resetCursor(hostParam(hosts, req).id)
        return ok
      },
    },
    {
      method: 'GET',
      path: '/admin/pds/trustedDomains',
      admin: true,
      handle: () => ({
        json: {
          trusted_domains: hosts.settings.trustedDomains.value,
          source: hosts.settings.trustedDomains.source,
        },
      }),
    },
    {
      method: 'POST',
      path: '/admin/pds/addTrustedDomain',
      admin: true,
      forward: true,
      handle: async (req) => {
        await hosts.addTrustedDomain(domainValue(req.query.get('domain'), 'domain'))
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
        if (!(await hosts.removeTrustedDomain(domain)))
          throw notFound(`${domain} is not a trusted domain`)
        return ok
      },
    },
  ]
}

export const notFound = (message: string) => new XrpcError(404, 'NotFound', message)
