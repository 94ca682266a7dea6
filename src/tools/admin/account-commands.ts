// `relay admin domain ...` (domain bans) and `relay admin repo ...` (takedowns, an account's
// status as the relay sees it, identity refresh) over docs/admin-api.md's `/admin/subs/*Domain*`
// and `/admin/repo/*` routes; one account's resync and compaction are in archive-commands.ts.
// Deliberately not here: judging DIDs beyond their shape (the relay resolves them).
import { archiveRepoCommands } from './archive-commands.ts'
import {
  arg,
  type CommandContext,
  CommandFailed,
  type CommandSpec,
  done,
  nameOf,
  requireDid,
  stringFlag,
} from './command.ts'
import { field, plural, str } from './output.ts'

/** Most pages `repo takedowns --all` follows, so a relay repeating cursors cannot loop it. */
const MAX_TAKEDOWN_PAGES = 10_000

function domainChange(word: 'ban' | 'unban', path: string, summary: string): CommandSpec {
  return {
    words: ['domain', word],
    args: ['DOMAIN'],
    summary,
    example: `domain ${word} spam.example`,
    run: async (ctx) => {
      const answer = await ctx.client.call({ method: 'POST', path, body: { Domain: arg(ctx, 0) } })
      // The relay may say which hosts the ban disconnected (a count or a list).
      const gone = field(answer, 'disconnected')
      const n = typeof gone === 'number' ? gone : Array.isArray(gone) ? gone.length : undefined
      const extra = n === undefined ? '' : ` (${plural(n, 'host')} disconnected)`
      return done(ctx, answer, `${word === 'ban' ? 'banned' : 'unbanned'} ${arg(ctx, 0)}${extra}`)
    },
  }
}

const bans: CommandSpec = {
  words: ['domain', 'bans'],
  args: [],
  summary: 'list banned domains',
  example: 'domain bans',
  run: async (ctx) => {
    const answer = await ctx.client.call({ method: 'GET', path: '/admin/subs/listDomainBans' })
    if (ctx.json) return done(ctx, answer, '')
    const domains = field(answer, 'banned_domains')
    if (!Array.isArray(domains))
      throw new CommandFailed('failed', 'GET /admin/subs/listDomainBans: no "banned_domains" list')
    for (const d of domains) ctx.out.line(String(d))
    ctx.out.line(`${domains.length} banned`)
    return 0
  },
}

function didAction(
  word: string,
  summary: string,
  send: (ctx: CommandContext, did: string) => Promise<unknown>,
  message: (did: string) => string,
): CommandSpec {
  const spec: CommandSpec = {
    words: ['repo', word],
    args: ['DID'],
    summary,
    example: `repo ${word} did:plc:ewvi7nxzyoun6zhxrhs64oiz`,
    run: async (ctx) => {
      const did = requireDid(arg(ctx, 0), nameOf(spec))
      return done(ctx, await send(ctx, did), message(did))
    },
  }
  return spec
}

const takedown = didAction(
  'takedown',
  'take an account down: drop its events, hide its past ones, emit #account',
  (ctx, did) => ctx.client.call({ method: 'POST', path: '/admin/repo/takeDown', body: { did } }),
  (did) => `took down ${did}`,
)

const untakedown = didAction(
  'untakedown',
  'reverse a takedown (emits #account)',
  (ctx, did) =>
    ctx.client.call({ method: 'POST', path: '/admin/repo/reverseTakedown', body: { did } }),
  (did) => `reversed the takedown of ${did}`,
)

const takedowns: CommandSpec = {
  words: ['repo', 'takedowns'],
  args: [],
  summary: 'list taken-down accounts (one page; --all for every page)',
  example: 'repo takedowns --all',
  flags: {
    cursor: { value: 'CURSOR', help: 'start after this cursor (from a previous page)' },
    all: { help: 'follow the cursor through every page' },
  },
  run: async (ctx) => {
    const all = ctx.flags.get('all') === true
    const dids: unknown[] = []
    let cursor = stringFlag(ctx, 'cursor')
    let last: unknown
    for (let page = 0; page < (all ? MAX_TAKEDOWN_PAGES : 1); page++) {
      last = await ctx.client.call({
        method: 'GET',
        path: '/admin/repo/takedowns',
        query: { cursor },
      })
      const got = field(last, 'dids')
      if (!Array.isArray(got))
        throw new CommandFailed('failed', 'GET /admin/repo/takedowns: no "dids" list')
      dids.push(...got)
      const next = str(last, 'cursor')
      if (next === undefined || next === '' || next === cursor || got.length === 0) {
        cursor = undefined
        break
      }
      cursor = next
    }
    if (ctx.json) return done(ctx, all ? { dids, ...(cursor ? { cursor } : {}) } : last, '')
    for (const d of dids) ctx.out.line(String(d))
    ctx.out.line(`${dids.length} taken down`)
    if (cursor !== undefined) ctx.out.line(`more: relay admin repo takedowns --cursor ${cursor}`)
    return 0
  },
}

function showAnswer(
  word: string,
  method: 'GET' | 'POST',
  path: string,
  summary: string,
): CommandSpec {
  const spec: CommandSpec = {
    words: ['repo', word],
    args: ['DID'],
    summary,
    example: `repo ${word} did:plc:ewvi7nxzyoun6zhxrhs64oiz`,
    run: async (ctx) => {
      const did = requireDid(arg(ctx, 0), nameOf(spec))
      const answer = await ctx.client.call({ method, path, query: { did } })
      if (ctx.json) return done(ctx, answer, '')
      ctx.out.summary(answer)
      return 0
    },
  }
  return spec
}

export const domainCommands: readonly CommandSpec[] = [
  domainChange('ban', '/admin/subs/banDomain', 'ban a domain and its subdomains; disconnects them'),
  domainChange('unban', '/admin/subs/unbanDomain', 'lift a domain ban'),
  bans,
]

export const repoCommands: readonly CommandSpec[] = [
  takedown,
  untakedown,
  takedowns,
  showAnswer(
    'status',
    'GET',
    '/admin/repo/status',
    'an account as the relay sees it: host, status, rev, recent drops',
  ),
  showAnswer(
    'refresh',
    'POST',
    '/admin/repo/refresh',
    'resolve an identity again and re-check its status at its PDS',
  ),
  ...archiveRepoCommands,
]
