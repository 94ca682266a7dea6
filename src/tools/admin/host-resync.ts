// `relay admin host resync HOST`, `host resync-status HOST` and `host resyncs`: a whole host's
// resync (`POST`/`GET /admin/pds/resync`, `GET /admin/pds/resyncs`). The relay lists the host's
// accounts and fetches each one whose head differs from its own (whole repos in archival mode,
// the signed head otherwise) in the background, so these start it, show its progress, or follow
// it with --wait. Works in both modes; only a relay that predates resync lacks the routes (exit 3).
// Deliberately not here: the other host commands (host-commands.ts).
import { AdminRequestError } from './client.ts'
import { arg, type CommandContext, CommandFailed, type CommandSpec, done } from './command.ts'
import { ago, count, field, isRecord, num, plural, str } from './output.ts'
import { WAIT_FLAGS, waitInterval, watchProgress } from './progress-watch.ts'

const RESYNC_UNAVAILABLE = 'resync is not available on this relay (a version before resync)'

const hostQuery = (ctx: CommandContext) => ({ host: arg(ctx, 0) })

/** `checked 1,200 of 2,500 repos (3 pages), 7 to resync: 5 resynced, 1 failed`. */
export function resyncCounts(r: unknown): string {
  const base =
    `checked ${count(num(r, 'numReposChecked'))} of ${count(num(r, 'numRepos'))} repos ` +
    `(${count(num(r, 'numRepoPages'))} pages), ${count(num(r, 'numReposToResync'))} to resync`
  const resynced = num(r, 'numReposResynced')
  const failed = num(r, 'numReposFailed')
  if (resynced === undefined && failed === undefined) return base
  return `${base}: ${count(resynced)} resynced, ${count(failed)} failed`
}

/** The status line, the counts and the last error (when there is one) of a resync. */
function resyncLines(r: unknown, host: string, now: number): string[] {
  const since = str(r, 'statusChangedAt')
  const lines = [
    `resync of ${str(r, 'pds') ?? host}: ${str(r, 'status') ?? '?'}` +
      (since ? ` (since ${since}, ${ago(since, now)})` : ''),
    resyncCounts(r),
  ]
  const error = str(r, 'lastError')
  if (error) lines.push(`last error: ${error}`)
  return lines
}

/** One line per poll with --wait. */
function resyncLine(r: Record<string, unknown>): string {
  const error = str(r, 'lastError')
  return `${str(r, 'status') ?? '?'}: ${resyncCounts(r)}${error ? ` (last error: ${error})` : ''}`
}

const resync: CommandSpec = {
  words: ['host', 'resync'],
  args: ['HOST'],
  summary: "resync a host: fetch every account whose head differs from the relay's",
  example: 'host resync pds.example.com --wait',
  details:
    "The relay pages through the host's listRepos in the background, at the host's crawl\n" +
    'rate, and fetches each account that differs: the whole repo in archival mode, the latest\n' +
    'signed commit otherwise. Asking again while one runs shows that one. --wait follows it\n' +
    'until it ends.',
  flags: WAIT_FLAGS,
  unavailable: RESYNC_UNAVAILABLE,
  run: async (ctx) => {
    const intervalMs = waitInterval(ctx, resync)
    const host = arg(ctx, 0)
    const answer = await ctx.client.call({
      method: 'POST',
      path: '/admin/pds/resync',
      query: hostQuery(ctx),
    })
    if (intervalMs === undefined && ctx.json) return done(ctx, answer, '')
    if (!ctx.json)
      for (const l of resyncLines(field(answer, 'resync'), host, ctx.now())) ctx.out.line(l)
    if (intervalMs === undefined) {
      ctx.out.line(`(see: relay admin host resync-status ${host})`)
      return 0
    }
    return watchProgress(
      ctx,
      {
        request: { method: 'GET', path: '/admin/pds/resync', query: hostQuery(ctx) },
        progress: (a) => field(a, 'resync'),
        line: resyncLine,
        what: `resync of ${host}`,
      },
      intervalMs,
    )
  },
}

const resyncStatus: CommandSpec = {
  words: ['host', 'resync-status'],
  args: ['HOST'],
  summary: "progress of a host's resync (the running one, else the last)",
  example: 'host resync-status pds.example.com',
  unavailable: RESYNC_UNAVAILABLE,
  run: async (ctx) => {
    const host = arg(ctx, 0)
    let answer: unknown
    try {
      answer = await ctx.client.call({
        method: 'GET',
        path: '/admin/pds/resync',
        query: hostQuery(ctx),
      })
    } catch (err) {
      // The route answers 404 `NotFound` for a known host that was never resynced.
      if (err instanceof AdminRequestError && err.code === 'http' && err.error === 'NotFound')
        throw new CommandFailed(
          'failed',
          `no resync of ${host} has run (start one: relay admin host resync ${host})`,
          { cause: err },
        )
      throw err
    }
    if (ctx.json) return done(ctx, answer, '')
    const r = field(answer, 'resync')
    if (!isRecord(r)) {
      ctx.out.summary(answer)
      return 0
    }
    for (const l of resyncLines(r, host, ctx.now())) ctx.out.line(l)
    return 0
  },
}

const resyncs: CommandSpec = {
  words: ['host', 'resyncs'],
  args: [],
  summary: 'every host resync the relay has stored: status and counts',
  example: 'host resyncs',
  unavailable: RESYNC_UNAVAILABLE,
  run: async (ctx) => {
    const answer = await ctx.client.call({ method: 'GET', path: '/admin/pds/resyncs' })
    if (ctx.json) return done(ctx, answer, '')
    const list = field(answer, 'resyncs')
    if (!Array.isArray(list))
      throw new CommandFailed('failed', 'GET /admin/pds/resyncs: no "resyncs" list')
    if (list.length === 0) {
      ctx.out.line('no host resyncs have run')
      return 0
    }
    const rows = list.map((r) => {
      const at = str(r, 'statusChangedAt')
      return [
        str(r, 'pds') ?? '?',
        str(r, 'status') ?? '-',
        count(num(r, 'numReposChecked')),
        count(num(r, 'numReposToResync')),
        count(num(r, 'numReposResynced')),
        count(num(r, 'numReposFailed')),
        at === undefined ? '-' : ago(at, ctx.now()),
      ]
    })
    rows.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''))
    ctx.out.table(
      ['HOST', 'STATUS', 'CHECKED', 'TO RESYNC', 'RESYNCED', 'FAILED', 'CHANGED'],
      rows,
      [2, 3, 4, 5],
    )
    const running = list.filter((r) => str(r, 'status') === 'running').length
    ctx.out.line(`${plural(list.length, 'resync')}, ${count(running)} running`)
    return 0
  },
}

export const resyncCommands: readonly CommandSpec[] = [resync, resyncStatus, resyncs]
