// Public host reads (Lexicons com.atproto.sync.listHosts and getHostStatus) plus the diagnostics
// PDS operators need (docs/design.md §4 item 12): getHostStatus carries the host's recent drop reasons
// with counts over the last hour and day (never DIDs), and `GET /host?hostname=...` shows the same
// as a small HTML page.
import type { HostView } from '../hosts/host-view.ts'
import type { RecentDrop } from '../ingest/drop-counter.ts'
import { XrpcError } from './errors.ts'
import { limitParam, optionalString, requiredString } from './params.ts'
import type { Route } from './server.ts'

export interface HostRouteDeps {
  /** Hosts in creation order (oldest first). */
  readonly list: () => readonly HostView[]
  readonly byHostname: (hostname: string) => HostView | undefined
  readonly recentDrops: (hostId: number) => readonly RecentDrop[]
}

function hostView(h: HostView) {
  const seq = h.cursor
  return {
    hostname: h.hostname,
    ...(seq !== null ? { seq } : {}),
    accountCount: h.accountCount,
    status: h.status,
  }
}

const publicDrops = (drops: readonly RecentDrop[]) =>
  drops.map((d) => ({
    reason: d.reason,
    count1h: d.count1h,
    count24h: d.count24h,
    lastAt: new Date(d.lastAt).toISOString(),
  }))

function find(d: HostRouteDeps, hostname: string): HostView {
  const host = d.byHostname(hostname.toLowerCase())
  if (!host) throw new XrpcError(404, 'HostNotFound', `host ${hostname} is not known to this relay`)
  return host
}

const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  )

export function hostRoutes(d: HostRouteDeps): Route[] {
  return [
    {
      method: 'GET',
      path: '/xrpc/com.atproto.sync.listHosts',
      handle: (req) => {
        const limit = limitParam(req.query, 'limit', 1, 1000, 200)
        const cursor = optionalString(req.query, 'cursor', 32)
        let after = 0
        if (cursor !== undefined) {
          if (!/^\d{1,15}$/.test(cursor))
            throw new XrpcError(
              400,
              'InvalidRequest',
              'parameter "cursor" is not a cursor this relay gave',
            )
          after = Number(cursor)
        }
        const hosts = d
          .list()
          .filter((h) => h.id > after)
          .slice(0, limit)
        const out: Record<string, unknown> = { hosts: hosts.map((h) => hostView(h)) }
        if (hosts.length === limit) out.cursor = String(hosts.at(-1)!.id)
        return { json: out }
      },
    },
    {
      method: 'GET',
      path: '/xrpc/com.atproto.sync.getHostStatus',
      handle: (req) => {
        const host = find(d, requiredString(req.query, 'hostname', 300))
        return { json: { ...hostView(host), recentDrops: publicDrops(d.recentDrops(host.id)) } }
      },
    },
    {
      method: 'GET',
      path: '/host',
      handle: (req) => {
        const host = find(d, requiredString(req.query, 'hostname', 300))
        const drops = publicDrops(d.recentDrops(host.id))
        const rows = drops.length
          ? drops
              .map(
                (x) =>
                  `<tr><td>${escapeHtml(x.reason)}</td><td>${x.count1h}</td><td>${x.count24h}</td><td>${x.lastAt}</td></tr>`,
              )
              .join('')
          : '<tr><td colspan="4">no events dropped</td></tr>'
        const html = `<!doctype html><meta charset="utf-8"><title>${escapeHtml(host.hostname)} on this relay</title>
<style>body{font:14px system-ui;margin:2em}td,th{padding:.2em .8em;text-align:left}</style>
<h1>${escapeHtml(host.hostname)}</h1>
<p>Status: <b>${escapeHtml(host.status)}</b>${host.statusReason ? ` (${escapeHtml(host.statusReason)})` : ''}.
Accounts: ${host.accountCount}. Last event processed: ${host.cursor ?? 'none yet'}.</p>
<h2>Events this relay did not pass on</h2>
<table><tr><th>reason</th><th>last hour</th><th>last day</th><th>last seen</th></tr>${rows}</table>`
        return { text: html, headers: { 'Content-Type': 'text/html; charset=utf-8' } }
      },
    },
  ]
}
