// `relay admin host resync HOST` and `host resync-status HOST`: a full resync of every account
// on one host (`POST`/`GET /admin/pds/resync`). Resync comes with archival mode; a relay
// without it answers 404 or 501 and these commands exit 3 saying so.
// Deliberately not here: the other host commands (host-commands.ts).
import { arg, type CommandContext, type CommandSpec, done } from './command.ts'
import { ago, count, field, isRecord, num, str } from './output.ts'

const RESYNC_UNAVAILABLE = 'resync is not available on this relay yet (it comes with archival mode)'

const hostQuery = (ctx: CommandContext) => ({ host: arg(ctx, 0) })

const resync: CommandSpec = {
  words: ['host', 'resync'],
  args: ['HOST'],
  summary: 'start a full resync of every account on a host (archival mode)',
  example: 'host resync pds.example.com',
  unavailable: RESYNC_UNAVAILABLE,
  run: async (ctx) => {
    const answer = await ctx.client.call({
      method: 'POST',
      path: '/admin/pds/resync',
      query: hostQuery(ctx),
    })
    return done(ctx, answer, `resync of ${arg(ctx, 0)} started (see: host resync-status)`)
  },
}

const resyncStatus: CommandSpec = {
  words: ['host', 'resync-status'],
  args: ['HOST'],
  summary: "progress of a host's resync",
  example: 'host resync-status pds.example.com',
  unavailable: RESYNC_UNAVAILABLE,
  run: async (ctx) => {
    const answer = await ctx.client.call({
      method: 'GET',
      path: '/admin/pds/resync',
      query: hostQuery(ctx),
    })
    if (ctx.json) return done(ctx, answer, '')
    const r = field(answer, 'resync')
    if (!isRecord(r)) {
      ctx.out.summary(answer)
      return 0
    }
    const since = str(r, 'statusChangedAt')
    ctx.out.line(
      `resync of ${str(r, 'pds') ?? arg(ctx, 0)}: ${str(r, 'status') ?? '?'}` +
        (since ? ` (since ${since}, ${ago(since, ctx.now())})` : ''),
    )
    ctx.out.line(
      `checked ${count(num(r, 'numReposChecked'))} of ${count(num(r, 'numRepos'))} repos ` +
        `(${count(num(r, 'numRepoPages'))} pages), ${count(num(r, 'numReposToResync'))} to resync`,
    )
    return 0
  },
}

export const resyncCommands: readonly CommandSpec[] = [resync, resyncStatus]
