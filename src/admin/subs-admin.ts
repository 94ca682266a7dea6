// Admin routes about upstream subscriptions (docs/admin-api.md "Upstream subscriptions"): live
// connections, disconnecting a host, the public crawl switch and per-day new-host limit, domain
// bans. Each parses, calls the hosts part (or its settings) and answers.
import type { Route } from '../api/server.ts'
import type { Hosts } from '../hosts/hosts.ts'
import { hostParam, notFound, ok } from './host-admin.ts'
import { bodyObject, domainValue, queryBool, queryCount } from './inputs.ts'

export function subsAdminRoutes(hosts: Hosts): Route[] {
  const settings = hosts.settings
  return [
    {
      method: 'POST',
      path: '/admin/subs/killUpstream',
      admin: true,
      forward: true,
      handle: async (req) => {
        const host = hostParam(hosts, req)
        await hosts.killUpstream(host.id, { block: queryBool(req, 'block', false) ?? false })
        return ok
      },
    },
    {
      method: 'GET',
      path: '/admin/subs/getUpstreamConns',
      admin: true,
      handle: () => ({
        json: hosts
          .connectedHosts()
          .map((id) => hosts.get(id)?.hostname)
          .filter((h) => h !== undefined),
      }),
    },
    {
      method: 'GET',
      path: '/admin/subs/perDayLimit',
      admin: true,
      handle: () => ({
        json: {
          limit: settings.newHostsPerDayLimit.value,
          source: settings.newHostsPerDayLimit.source,
        },
      }),
    },
    {
      method: 'POST',
      path: '/admin/subs/setPerDayLimit',
      admin: true,
      forward: true,
      handle: async (req) => {
        await settings.setNewHostsPerDayLimit(queryCount(req, 'limit', 1_000_000))
        return ok
      },
    },
    {
      method: 'GET',
      path: '/admin/subs/getEnabled',
      admin: true,
      handle: () => ({
        json: {
          enabled: settings.publicCrawlEnabled.value,
          source: settings.publicCrawlEnabled.source,
        },
      }),
    },
    {
      method: 'POST',
      path: '/admin/subs/setEnabled',
      admin: true,
      forward: true,
      handle: async (req) => {
        await settings.setPublicCrawlEnabled(queryBool(req, 'enabled', true)!)
        return ok
      },
    },
    {
      method: 'GET',
      path: '/admin/subs/listDomainBans',
      admin: true,
      handle: () => ({ json: { banned_domains: settings.bannedDomains } }),
    },
    {
      method: 'POST',
      path: '/admin/subs/banDomain',
      admin: true,
      forward: true,
      handle: async (req) => {
        const body = bodyObject(req)
        const disconnected = await hosts.banDomain(
          domainValue(body.Domain ?? body.domain, 'Domain'),
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
        if (!(await hosts.unbanDomain(domain))) throw notFound(`${domain} is not banned`)
        return ok
      },
    },
  ]
}
