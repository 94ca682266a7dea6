// `relay admin consumers`, `crawl ...` (the public requestCrawl switch and per-day limit),
// `stats` and `archive` over docs/admin-api.md's `/admin/consumers/list`, `/admin/subs/*`,
// `/admin/stats` and `/admin/archive` (that one in archive-commands.ts, beside compaction).
// Deliberately not here: `pull-hosts` (pull-hosts.ts), host and account commands.
import { archiveCommand } from './archive-commands.ts'
import { parseCount } from './args.ts'
import {
  arg,
  type CommandContext,
  CommandFailed,
  type CommandSpec,
  done,
  stringFlag,
} from './command.ts'
import { ago, bool, clip, count, field, isRecord, num, plural, str } from './output.ts'

const consumers: CommandSpec = {
  words: ['consumers'],
  args: [],
  summary: 'list the firehose consumers connected now',
  example: 'consumers',
  run: async (ctx) => {
    const answer = await ctx.client.call({ method: 'GET', path: '/admin/consumers/list' })
    if (ctx.json) return done(ctx, answer, '')
    if (!Array.isArray(answer))
      throw new CommandFailed('failed', 'GET /admin/consumers/list did not answer a list')
    const rows = answer.map((c) => {
      const at = str(c, 'connected_at')
      return [
        String(num(c, 'id') ?? str(c, 'id') ?? '?'),
        str(c, 'remote_addr') ?? '-',
        clip(str(c, 'user_agent') || '-', 40),
        count(num(c, 'events_consumed')),
        at === undefined ? '-' : `${at} (${ago(at, ctx.now())})`,
      ]
    })
    if (rows.length === 0) ctx.out.line('no consumers connected')
    else ctx.out.table(['ID', 'REMOTE ADDR', 'USER AGENT', 'EVENTS', 'CONNECTED'], rows, [0, 3])
    if (rows.length > 0) ctx.out.line(plural(rows.length, 'consumer'))
    return 0
  },
}

function crawlSwitch(enabled: boolean): CommandSpec {
  const word = enabled ? 'enable' : 'disable'
  return {
    words: ['crawl', word],
    args: [],
    summary: `${word} public requestCrawl (admin host add always works)`,
    example: `crawl ${word}`,
    run: async (ctx) => {
      const answer = await ctx.client.call({
        method: 'POST',
        path: '/admin/subs/setEnabled',
        query: { enabled: String(enabled) },
      })
      return done(ctx, answer, `public requestCrawl ${word}d`)
    },
  }
}

/** `{limit, source?}` from GET /admin/subs/perDayLimit. */
async function getPerDayLimit(ctx: CommandContext): Promise<{ limit: number; source?: string }> {
  const answer = await ctx.client.call({ method: 'GET', path: '/admin/subs/perDayLimit' })
  const limit = num(answer, 'limit')
  if (limit === undefined)
    throw new CommandFailed('failed', 'GET /admin/subs/perDayLimit: no "limit" number')
  const source = str(answer, 'source')
  return source === undefined ? { limit } : { limit, source }
}

/** ` (from admin)` when the relay says where a setting came from. */
const from = (source: string | undefined): string => (source ? ` (from ${source})` : '')

const crawlStatus: CommandSpec = {
  words: ['crawl', 'status'],
  args: [],
  summary: 'whether public requestCrawl is enabled, and the per-day new-host limit',
  example: 'crawl status',
  run: async (ctx) => {
    const answer = await ctx.client.call({ method: 'GET', path: '/admin/subs/getEnabled' })
    const enabled = bool(answer, 'enabled')
    if (enabled === undefined)
      throw new CommandFailed('failed', 'GET /admin/subs/getEnabled: no "enabled" boolean')
    const perDay = await getPerDayLimit(ctx)
    if (ctx.json) return done(ctx, { enabled, limit: perDay.limit }, '')
    ctx.out.line(
      `public requestCrawl: ${enabled ? 'enabled' : 'disabled'}${from(str(answer, 'source'))}`,
    )
    ctx.out.line(`new hosts per day:   ${count(perDay.limit)}${from(perDay.source)}`)
    return 0
  },
}

const perDayLimit: CommandSpec = {
  words: ['crawl', 'per-day-limit'],
  args: ['[N]'],
  summary: 'show, or set to N, how many new hosts public requestCrawl may add per 24 h',
  example: 'crawl per-day-limit 100',
  run: async (ctx) => {
    if (ctx.args.length === 0) {
      const { limit, source } = await getPerDayLimit(ctx)
      return done(ctx, { limit }, `new hosts per day: ${count(limit)}${from(source)}`)
    }
    const n = parseCount(arg(ctx, 0), 'N', 'crawl per-day-limit')
    const answer = await ctx.client.call({
      method: 'POST',
      path: '/admin/subs/setPerDayLimit',
      query: { limit: String(n) },
    })
    return done(ctx, answer, `new hosts per day set to ${count(n)}`)
  },
}

const stats: CommandSpec = {
  words: ['stats'],
  args: [],
  summary: 'events in/out, consumers and drops over a window: last, mean and max per step',
  example: 'stats --window 1h --step 1m',
  flags: {
    window: { value: 'DURATION', help: 'how far back (default 1h)' },
    step: { value: 'DURATION', help: 'one number per step (default 10s)' },
  },
  run: async (ctx) => {
    const answer = await ctx.client.call({
      method: 'GET',
      path: '/admin/stats',
      query: { window: stringFlag(ctx, 'window'), step: stringFlag(ctx, 'step') },
    })
    if (ctx.json) return done(ctx, answer, '')
    const series = field(answer, 'series')
    if (!isRecord(series)) throw new CommandFailed('failed', 'GET /admin/stats: no "series"')
    const rows: string[][] = []
    for (const [name, values] of Object.entries(series)) {
      if (Array.isArray(values)) rows.push([name, ...seriesCells(values)])
      else if (isRecord(values)) {
        for (const [reason, v] of Object.entries(values))
          if (Array.isArray(v)) rows.push([`${name} ${reason}`, ...seriesCells(v)])
      }
    }
    const step = num(answer, 'step') ?? str(answer, 'step')
    ctx.out.line(`one number per ${step ?? '?'}${typeof step === 'number' ? ' s' : ''}`)
    ctx.out.table(['SERIES', 'LAST', 'MEAN', 'MAX'], rows, [1, 2, 3])
    return 0
  },
}

function seriesCells(values: readonly unknown[]): string[] {
  const ns = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v))
  if (ns.length === 0) return ['-', '-', '-']
  const mean = ns.reduce((a, b) => a + b, 0) / ns.length
  const round = (n: number) => count(Math.round(n * 10) / 10)
  return [round(ns[ns.length - 1] ?? 0), round(mean), round(Math.max(...ns))]
}

export const relayCommands: readonly CommandSpec[] = [
  consumers,
  crawlSwitch(true),
  crawlSwitch(false),
  crawlStatus,
  perDayLimit,
  stats,
  archiveCommand,
]
