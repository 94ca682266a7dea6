// `relay admin repo resync DID` (one account fetched from its PDS again, both modes), the
// archival-mode commands `repo compact DID`, `repo compact-all` and `repo compact-status`
// (`/admin/repo/compact*`), and `archive` (`GET /admin/archive`: the mirror's size, compaction
// and the repair queue). A relay running without --archive answers the compaction routes 400
// `ArchiveDisabled`; that is said in one line naming the flag (exit 1, like any refusal). Exit 3
// is kept for a relay that predates these routes.
// Deliberately not here: the whole-host resync (host-resync.ts).
import { type AdminRequest, AdminRequestError } from './client.ts'
import {
  arg,
  type CommandContext,
  CommandFailed,
  type CommandSpec,
  done,
  nameOf,
  requireDid,
} from './command.ts'
import { ago, bytes, count, field, isRecord, num, str } from './output.ts'
import { WAIT_FLAGS, waitInterval, watchProgress } from './progress-watch.ts'

const RESYNC_UNAVAILABLE = 'resync is not available on this relay (a version before resync)'
const COMPACT_UNAVAILABLE =
  'compaction is not available on this relay (a version before archival mode)'
const ARCHIVE_OFF =
  'archival mode is off on this relay: start the relay with --archive (RELAY_ARCHIVE=true) to mirror and compact repos'

/** The relay fetches (and in archival mode verifies) a whole repo while the request waits. */
const REPO_WORK_TIMEOUT_MS = 15 * 60_000

/** One call to a route that only archival mode serves. */
async function archiveCall(ctx: CommandContext, req: AdminRequest): Promise<unknown> {
  try {
    return await ctx.client.call(req)
  } catch (err) {
    if (err instanceof AdminRequestError && err.error === 'ArchiveDisabled')
      throw new CommandFailed('failed', ARCHIVE_OFF, { cause: err })
    throw err
  }
}

const resyncRepo: CommandSpec = {
  words: ['repo', 'resync'],
  args: ['DID'],
  summary: 'fetch an account from its PDS again and announce it with #sync',
  example: 'repo resync did:plc:ewvi7nxzyoun6zhxrhs64oiz',
  details:
    'The whole repo in archival mode (verified, then mirrored), the latest signed commit\n' +
    'otherwise. Exit 1 when the fetch failed or the relay holds the account back.',
  unavailable: RESYNC_UNAVAILABLE,
  run: async (ctx) => {
    const did = requireDid(arg(ctx, 0), nameOf(resyncRepo))
    const answer = await ctx.client.call({
      method: 'POST',
      path: '/admin/repo/resync',
      body: { did },
      timeoutMs: REPO_WORK_TIMEOUT_MS,
    })
    if (ctx.json) ctx.out.json(answer)
    const result = str(answer, 'result')
    const rev = str(answer, 'rev') ?? '-'
    const records = num(answer, 'records')
    switch (result) {
      case 'failed':
        throw new CommandFailed(
          'failed',
          `resync of ${did} failed: ${str(answer, 'reason') ?? '?'}: ${str(answer, 'detail') ?? ''}`,
        )
      case 'refused':
        throw new CommandFailed(
          'failed',
          `${did} is held back on this relay (taken down or throttled); nothing was taken in`,
        )
      case 'synced':
        if (!ctx.json)
          ctx.out.line(
            `resynced ${did} at rev ${rev}` +
              (records === undefined ? '' : ` (${count(records)} records)`) +
              '; announced with #sync',
          )
        return 0
      case 'unchanged':
        if (!ctx.json) ctx.out.line(`${did} is already at rev ${rev}`)
        return 0
      case 'stale':
        if (!ctx.json)
          ctx.out.line(`${did}: a newer commit than rev ${rev} arrived meanwhile; it stays`)
        return 0
      default:
        if (!ctx.json) ctx.out.summary(answer)
        return 0
    }
  },
}

const compactRepo: CommandSpec = {
  words: ['repo', 'compact'],
  args: ['DID'],
  summary: "archival mode: delete the blocks a repo's current tree no longer reaches",
  example: 'repo compact did:plc:ewvi7nxzyoun6zhxrhs64oiz',
  unavailable: COMPACT_UNAVAILABLE,
  run: async (ctx) => {
    const did = requireDid(arg(ctx, 0), nameOf(compactRepo))
    const answer = await archiveCall(ctx, {
      method: 'POST',
      path: '/admin/repo/compact',
      body: { did },
      timeoutMs: REPO_WORK_TIMEOUT_MS,
    })
    return done(
      ctx,
      answer,
      `compacted ${did}: ${count(num(answer, 'removed'))} blocks removed, ` +
        `${count(num(answer, 'kept'))} kept`,
    )
  },
}

/** The lines of a compaction's progress. */
function compactionLines(c: unknown, now: number): string[] {
  const started = str(c, 'startedAt')
  const finished = str(c, 'finishedAt')
  const when = finished ?? started
  const status = str(c, 'status') ?? '?'
  const lines = [
    `compaction: ${status}` +
      (status === 'idle'
        ? ' (none has run since the relay started)'
        : when
          ? ` (${finished ? 'finished' : 'started'} ${when}, ${ago(when, now)})`
          : ''),
  ]
  if (status === 'idle') return lines
  lines.push(compactionCounts(c))
  const error = str(c, 'lastError')
  if (error) lines.push(`last error: ${error}`)
  return lines
}

/** `1,200 repos done, 4,567 blocks removed, 1.5 GiB → 1.2 GiB`. */
function compactionCounts(c: unknown): string {
  const before = num(c, 'bytesBefore')
  const after = num(c, 'bytesAfter')
  const size =
    before === undefined ? '' : `, ${bytes(before)} → ${after === undefined ? '…' : bytes(after)}`
  return (
    `${count(num(c, 'reposDone'))} repos done, ${count(num(c, 'blocksRemoved'))} blocks removed` +
    size
  )
}

const compactAll: CommandSpec = {
  words: ['repo', 'compact-all'],
  args: [],
  summary: 'archival mode: compact every mirrored repo in the background',
  example: 'repo compact-all --wait',
  details:
    "One repo at a time, between the mirror's other writes; then the archive gives the space\n" +
    'back. Asking again while one runs shows that one. --wait follows it until it ends.',
  flags: WAIT_FLAGS,
  unavailable: COMPACT_UNAVAILABLE,
  run: async (ctx) => {
    const intervalMs = waitInterval(ctx, compactAll)
    const answer = await archiveCall(ctx, { method: 'POST', path: '/admin/repo/compactAll' })
    if (intervalMs === undefined && ctx.json) return done(ctx, answer, '')
    if (!ctx.json)
      for (const l of compactionLines(field(answer, 'compaction'), ctx.now())) ctx.out.line(l)
    if (intervalMs === undefined) {
      ctx.out.line('(see: relay admin repo compact-status)')
      return 0
    }
    return watchProgress(
      ctx,
      {
        request: { method: 'GET', path: '/admin/repo/compactAll' },
        progress: (a) => field(a, 'compaction'),
        line: (c) => `${str(c, 'status') ?? '?'}: ${compactionCounts(c)}`,
        what: 'compaction',
      },
      intervalMs,
    )
  },
}

const compactStatus: CommandSpec = {
  words: ['repo', 'compact-status'],
  args: [],
  summary: 'archival mode: progress of the running or last compaction',
  example: 'repo compact-status',
  unavailable: COMPACT_UNAVAILABLE,
  run: async (ctx) => {
    const answer = await archiveCall(ctx, { method: 'GET', path: '/admin/repo/compactAll' })
    if (ctx.json) return done(ctx, answer, '')
    const c = field(answer, 'compaction')
    if (!isRecord(c)) ctx.out.summary(answer)
    else for (const l of compactionLines(c, ctx.now())) ctx.out.line(l)
    return 0
  },
}

const archive: CommandSpec = {
  words: ['archive'],
  args: [],
  summary: 'archival mode (repos, size on disk), its compaction, and the repair queue',
  example: 'archive',
  unavailable: 'archive status is not available on this relay (a version before archival mode)',
  run: async (ctx) => {
    const answer = await ctx.client.call({ method: 'GET', path: '/admin/archive' })
    if (ctx.json) return done(ctx, answer, '')
    const a = field(answer, 'archive')
    if (!isRecord(a)) throw new CommandFailed('failed', 'GET /admin/archive: no "archive" object')
    if (a.enabled === true) {
      ctx.out.line(
        `archival mode: on, ${count(num(a, 'repos'))} repos, ${bytes(num(a, 'storageBytes'))} ` +
          `on disk (${bytes(num(a, 'freeBytes'))} free for reuse)`,
      )
    } else ctx.out.line('archival mode: off (start the relay with --archive to mirror repos)')
    const c = field(answer, 'compaction')
    if (isRecord(c)) for (const l of compactionLines(c, ctx.now())) ctx.out.line(l)
    const r = field(answer, 'repairs')
    // `repaired`, `failed` (attempts, each retried later) and `overflow` count since the start.
    ctx.out.line(
      `repairs: ${count(num(r, 'queued'))} queued, ${count(num(r, 'running'))} running; ` +
        `since start ${count(num(r, 'repaired'))} repaired, ${count(num(r, 'failed'))} failed ` +
        `attempts, ${count(num(r, 'overflow'))} not queued (queue full)`,
    )
    return 0
  },
}

/** The `repo` commands of this file, in help order. */
export const archiveRepoCommands: readonly CommandSpec[] = [
  resyncRepo,
  compactRepo,
  compactAll,
  compactStatus,
]

export const archiveCommand: CommandSpec = archive
