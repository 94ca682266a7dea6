// `relay admin host ...`: the hosts (PDS instances) the relay subscribes to — add, list, block,
// kill a connection, limits, cursor reset, trusted domains, live connections — over the
// `/admin/pds/*` and `/admin/subs/*` routes of docs/admin-api.md.
// Deliberately not here: validating hostnames (the relay does, and its message is shown).
import { SYNC_MODES } from '../../hosts/sync-ratchet.ts'
import { parseCount, UsageError } from './args.ts'
import {
  arg,
  type CommandContext,
  CommandFailed,
  type CommandSpec,
  done,
  stringFlag,
} from './command.ts'
import { resyncCommands } from './host-resync.ts'
import { bool, count, field, isRecord, num, plural, str } from './output.ts'

const hostQuery = (ctx: CommandContext) => ({ host: arg(ctx, 0) })

async function listHosts(ctx: CommandContext): Promise<unknown[]> {
  const answer = await ctx.client.call({ method: 'GET', path: '/admin/pds/list' })
  if (!Array.isArray(answer))
    throw new CommandFailed('failed', 'GET /admin/pds/list did not answer an array of hosts')
  return answer
}

/** The reason of a host's latest drop: `LastError`, else the most recent of `RecentDrops`. */
function lastDrop(rec: unknown): string {
  const last = str(field(rec, 'LastError'), 'reason')
  if (last !== undefined) return last
  const drops = field(rec, 'RecentDrops')
  if (!Array.isArray(drops) || drops.length === 0) return '-'
  const latest = [...drops].sort((a, b) =>
    (str(b, 'lastAt') ?? '').localeCompare(str(a, 'lastAt') ?? ''),
  )[0]
  return str(latest, 'reason') ?? '-'
}

function statusOf(rec: unknown): string {
  const status = str(rec, 'Status') ?? '-'
  const marks: string[] = []
  if (bool(rec, 'Blocked') && status !== 'banned') marks.push('blocked')
  if (bool(rec, 'Trusted')) marks.push('trusted')
  return marks.length ? `${status} (${marks.join(', ')})` : status
}

/** `12.5/s (max 50)`: the current event rate and the per-second limit, as far as known. */
function rateOf(rec: unknown): string {
  const max = num(field(rec, 'PerSecondEventRate'), 'Max') ?? num(rec, 'RateLimit')
  const now = num(field(rec, 'CurrentRates'), 'perSecond')
  const limit = max === undefined ? '' : `max ${count(max)}`
  if (now === undefined) return max === undefined ? '-' : `${limit}/s`
  const rate = `${count(Math.round(now * 10) / 10)}/s`
  return max === undefined ? rate : `${rate} (${limit})`
}

const list: CommandSpec = {
  words: ['host', 'list'],
  args: [],
  summary: 'list the hosts the relay knows: status, accounts/limit, cursor, rate, last drop',
  example: 'host list',
  run: async (ctx) => {
    const hosts = await listHosts(ctx)
    if (ctx.json) return done(ctx, hosts, '')
    const rows = hosts.map((h) => [
      str(h, 'Host') ?? '?',
      statusOf(h),
      `${count(num(h, 'RepoCount') ?? num(h, 'UserCount'))}/${count(num(h, 'RepoLimit'))}`,
      count(num(h, 'Cursor')),
      rateOf(h),
      lastDrop(h),
    ])
    rows.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''))
    ctx.out.table(['HOST', 'STATUS', 'ACCOUNTS', 'CURSOR', 'RATE', 'LAST DROP'], rows, [2, 3])
    const connected = hosts.filter((h) => bool(h, 'HasActiveConnection')).length
    ctx.out.line(`${plural(hosts.length, 'host')}, ${count(connected)} connected`)
    return 0
  },
}

const add: CommandSpec = {
  words: ['host', 'add'],
  args: ['HOST'],
  summary: 'subscribe to a host (admin requestCrawl: bypasses the per-day limit and switch)',
  example: 'host add pds.example.com --cursor 0',
  details:
    'A new host is followed from its live head: events it emitted before are not relayed. ' +
    '--cursor 0 starts from the oldest event it still holds (N: after its seq N).',
  flags: { cursor: { value: 'N', help: 'for a new host: start after this upstream seq' } },
  run: async (ctx) => {
    const cursorText = stringFlag(ctx, 'cursor')
    const cursor =
      cursorText === undefined ? undefined : parseCount(cursorText, '--cursor', 'host add')
    const answer = await ctx.client.call({
      method: 'POST',
      path: '/admin/pds/requestCrawl',
      body: { hostname: arg(ctx, 0), ...(cursor !== undefined ? { cursor } : {}) },
    })
    const message = str(answer, 'message')
    return done(ctx, answer, `subscribed to ${arg(ctx, 0)}${message ? `: ${message}` : ''}`)
  },
}

function hostAction(
  word: string,
  path: string,
  summary: string,
  message: (host: string) => string,
): CommandSpec {
  return {
    words: ['host', word],
    args: ['HOST'],
    summary,
    example: `host ${word} pds.example.com`,
    run: async (ctx) => {
      const answer = await ctx.client.call({ method: 'POST', path, query: hostQuery(ctx) })
      return done(ctx, answer, message(arg(ctx, 0)))
    },
  }
}

const kill: CommandSpec = {
  words: ['host', 'kill'],
  args: ['HOST'],
  summary: "disconnect from a host's firehose (--block also blocks it)",
  example: 'host kill pds.example.com --block',
  flags: { block: { help: 'also block the host, so it is not reconnected' } },
  run: async (ctx) => {
    const block = ctx.flags.get('block') === true
    const answer = await ctx.client.call({
      method: 'POST',
      path: '/admin/subs/killUpstream',
      query: { host: arg(ctx, 0), block: block ? 'true' : undefined },
    })
    return done(ctx, answer, `disconnected ${arg(ctx, 0)}${block ? ' and blocked it' : ''}`)
  },
}

const LIMIT_FLAGS = {
  'per-second': 'per_second',
  'per-hour': 'per_hour',
  'per-day': 'per_day',
  'crawl-rate': 'crawl_rate',
  'repo-limit': 'repo_limit',
} as const

const limits: CommandSpec = {
  words: ['host', 'limits'],
  args: ['HOST'],
  summary: "show a host's limits, or change them with the flags",
  example: 'host limits pds.example.com --per-second 100 --repo-limit 5000',
  details: 'Without flags, shows the current limits (from the host list).',
  flags: {
    'per-second': { value: 'N', help: 'events per second' },
    'per-hour': { value: 'N', help: 'events per hour' },
    'per-day': { value: 'N', help: 'events per day' },
    'crawl-rate': { value: 'N', help: 'repo fetches per second' },
    'repo-limit': { value: 'N', help: 'accounts the host may have' },
    'sync-validation': { value: 'MODE', help: 'auto, strict or lenient' },
  },
  run: async (ctx) => {
    const host = arg(ctx, 0)
    const body: Record<string, string | number> = { host }
    for (const [flag, key] of Object.entries(LIMIT_FLAGS)) {
      const v = stringFlag(ctx, flag)
      if (v !== undefined) body[key] = parseCount(v, `--${flag}`, 'host limits')
    }
    const mode = stringFlag(ctx, 'sync-validation')
    if (mode !== undefined) {
      if (!(SYNC_MODES as readonly string[]).includes(mode))
        throw new UsageError(`--sync-validation must be auto, strict or lenient`, 'host limits')
      body.sync_validation = mode
    }
    if (Object.keys(body).length === 1) return showLimits(ctx, host)
    const answer = await ctx.client.call({ method: 'POST', path: '/admin/pds/changeLimits', body })
    const changed = Object.entries(body)
      .filter(([k]) => k !== 'host')
      .map(([k, v]) => `${k}=${v}`)
    return done(ctx, answer, `limits of ${host} set: ${changed.join(' ')}`)
  },
}

async function showLimits(ctx: CommandContext, host: string): Promise<number> {
  const rec = (await listHosts(ctx)).find((h) => str(h, 'Host') === host)
  if (rec === undefined) throw new CommandFailed('failed', `the relay does not know host ${host}`)
  const sync = field(rec, 'SyncValidation')
  const view = {
    host,
    per_second: num(field(rec, 'PerSecondEventRate'), 'Max') ?? num(rec, 'RateLimit'),
    per_hour: num(field(rec, 'PerHourEventRate'), 'Max') ?? num(rec, 'HourlyEventLimit'),
    per_day: num(field(rec, 'PerDayEventRate'), 'Max') ?? num(rec, 'DailyEventLimit'),
    crawl_rate: num(field(rec, 'CrawlRate'), 'Max') ?? num(rec, 'CrawlRateLimit'),
    repo_limit: num(rec, 'RepoLimit'),
    sync_validation: isRecord(sync) ? sync : undefined,
  }
  if (ctx.json) return done(ctx, view, '')
  ctx.out.line(`host:            ${host}${bool(rec, 'Trusted') ? ' (trusted)' : ''}`)
  ctx.out.line(`per second:      ${count(view.per_second)}`)
  ctx.out.line(`per hour:        ${count(view.per_hour)}`)
  ctx.out.line(`per day:         ${count(view.per_day)}`)
  ctx.out.line(`crawl rate:      ${count(view.crawl_rate)}/s`)
  ctx.out.line(`accounts:        ${count(num(rec, 'RepoCount'))} of ${count(view.repo_limit)}`)
  if (isRecord(sync)) {
    const pinned = bool(sync, 'pinned') ? ', pinned' : ''
    ctx.out.line(
      `sync validation: ${str(sync, 'mode') ?? '-'} (effective ${str(sync, 'effective') ?? '-'}${pinned})`,
    )
  }
  return 0
}

function domainAction(word: string, path: string, summary: string, verb: string): CommandSpec {
  return {
    words: ['host', word],
    args: ['DOMAIN'],
    summary,
    example: `host ${word} example.com`,
    run: async (ctx) => {
      const answer = await ctx.client.call({
        method: 'POST',
        path,
        query: { domain: arg(ctx, 0) },
      })
      return done(ctx, answer, `${verb} ${arg(ctx, 0)}`)
    },
  }
}

const trusted: CommandSpec = {
  words: ['host', 'trusted'],
  args: [],
  summary: 'list trusted domains and where each came from',
  example: 'host trusted',
  run: async (ctx) => {
    const answer = await ctx.client.call({ method: 'GET', path: '/admin/pds/trustedDomains' })
    if (ctx.json) return done(ctx, answer, '')
    const items = field(answer, 'trusted_domains')
    if (!Array.isArray(items))
      throw new CommandFailed('failed', 'GET /admin/pds/trustedDomains: no "trusted_domains" list')
    // Each entry is a domain, or an object naming the domain and where it came from; a
    // top-level `source` says where the whole list came from.
    const listSource = str(answer, 'source') ?? '-'
    const rows = items.map((it) =>
      typeof it === 'string'
        ? [it, listSource]
        : [
            str(it, 'domain') ?? str(it, 'Domain') ?? JSON.stringify(it),
            str(it, 'source') ?? str(it, 'from') ?? str(it, 'origin') ?? listSource,
          ],
    )
    if (rows.length === 0) ctx.out.line('no trusted domains')
    else ctx.out.table(['DOMAIN', 'SOURCE'], rows)
    return 0
  },
}

const connected: CommandSpec = {
  words: ['host', 'connected'],
  args: [],
  summary: 'list the hosts with a live firehose connection',
  example: 'host connected',
  run: async (ctx) => {
    const answer = await ctx.client.call({ method: 'GET', path: '/admin/subs/getUpstreamConns' })
    if (ctx.json) return done(ctx, answer, '')
    if (!Array.isArray(answer))
      throw new CommandFailed('failed', 'GET /admin/subs/getUpstreamConns did not answer a list')
    for (const h of [...answer].map(String).sort()) ctx.out.line(h)
    ctx.out.line(`${answer.length} connected`)
    return 0
  },
}

export const hostCommands: readonly CommandSpec[] = [
  add,
  list,
  hostAction('block', '/admin/pds/block', 'block a host and disconnect it', (h) => `blocked ${h}`),
  hostAction(
    'unblock',
    '/admin/pds/unblock',
    'unblock a host; it reconnects from its stored cursor',
    (h) => `unblocked ${h}`,
  ),
  kill,
  limits,
  hostAction(
    'reset-cursor',
    '/admin/pds/resetCursor',
    "forget a host's cursor and reconnect at its live head (the PDS reset its sequence)",
    (h) => `cursor of ${h} reset; reconnecting at its live head`,
  ),
  domainAction(
    'trust',
    '/admin/pds/addTrustedDomain',
    'give hosts under a domain trusted limits',
    'trusted',
  ),
  domainAction('untrust', '/admin/pds/removeTrustedDomain', 'remove a trusted domain', 'untrusted'),
  trusted,
  connected,
  ...resyncCommands,
]
