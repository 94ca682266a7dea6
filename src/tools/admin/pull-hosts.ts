// `relay admin pull-hosts --from URL`: asks the relay to add every host another relay lists
// (`POST /admin/pds/pullHosts`), then polls `GET /admin/pds/pullHosts` and prints a line each
// time the progress changes, until the pull is finished, failed, or --timeout passes.
// docs/admin-api.md does not fix the progress object's fields, so this reads it loosely: the state
// is `status` (or `done`/`running`/`finishedAt`), and every number in it is shown as a counter.
// Deliberately not here: the pull itself (the relay runs it in the background; Ctrl-C here only
// stops watching).
import { parseSeconds, UsageError } from './args.ts'
import {
  type CommandContext,
  CommandFailed,
  type CommandSpec,
  done,
  stringFlag,
} from './command.ts'
import { bool, isRecord, str } from './output.ts'

const PATH = '/admin/pds/pullHosts'
const FINISHED = new Set([
  'done',
  'finished',
  'complete',
  'completed',
  'succeeded',
  'success',
  'idle',
])
const FAILED = new Set(['failed', 'error', 'errored', 'aborted', 'cancelled', 'canceled'])

export type PullState = 'running' | 'finished' | 'failed' | 'unknown'

/** The progress object itself: unwraps `{"pullHosts": {...}}`-style envelopes. */
export function progressOf(answer: unknown): Record<string, unknown> {
  if (!isRecord(answer)) return {}
  const keys = Object.keys(answer)
  const only = keys.length === 1 ? answer[keys[0] ?? ''] : undefined
  return isRecord(only) ? only : answer
}

export function stateOf(p: Record<string, unknown>): PullState {
  const status = (str(p, 'status') ?? str(p, 'state') ?? '').toLowerCase()
  if (FAILED.has(status)) return 'failed'
  if (FINISHED.has(status)) return 'finished'
  if (status !== '') return 'running'
  const doneFlag = bool(p, 'done') ?? bool(p, 'finished')
  if (doneFlag !== undefined) return doneFlag ? 'finished' : 'running'
  const running = bool(p, 'running')
  if (running !== undefined) return running ? 'running' : 'finished'
  if ('finishedAt' in p) return p.finishedAt ? 'finished' : 'running'
  return 'unknown'
}

/** `running: 120 added, pages 3, ...`: the state and every counter, in the relay's order. */
export function progressLine(p: Record<string, unknown>): string {
  const state = str(p, 'status') ?? str(p, 'state') ?? stateOf(p)
  const counters = Object.entries(p)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${k} ${(v as number).toLocaleString('en-US')}`)
  const error = str(p, 'error') ?? str(p, 'message')
  return [state, counters.join(', '), error ? `error: ${error}` : '']
    .filter((s) => s !== '')
    .join(' — ')
}

export const pullHosts: CommandSpec = {
  words: ['pull-hosts'],
  args: [],
  summary: 'add every host another relay lists (its listHosts), watching progress',
  example: 'pull-hosts --from https://relay1.us-east.bsky.network',
  details:
    'The relay pulls in the background; this command polls its progress until it is done.\n' +
    'Ctrl-C stops watching, not the pull. --status shows the progress of the last pull.',
  flags: {
    from: { value: 'URL', help: 'the relay to copy the host list from' },
    status: { help: 'only show the progress of the current or last pull' },
    'no-wait': { help: 'start the pull and return at once' },
    interval: { value: 'SECONDS', help: 'between progress polls (default 2)' },
    timeout: { value: 'SECONDS', help: 'stop watching after this long (default 7200)' },
  },
  run: async (ctx) => {
    const from = stringFlag(ctx, 'from')
    const statusOnly = ctx.flags.get('status') === true
    if (statusOnly) {
      const answer = await ctx.client.call({ method: 'GET', path: PATH })
      return done(ctx, answer, `pull-hosts: ${progressLine(progressOf(answer))}`)
    }
    if (from === undefined) throw new UsageError('--from URL is required', 'pull-hosts')
    if (!/^https?:\/\/[^/\s]+/.test(from))
      throw new UsageError(`--from must be an http(s) URL, not "${from}"`, 'pull-hosts')
    const intervalS = parseSeconds(stringFlag(ctx, 'interval') ?? '2', '--interval', 'pull-hosts')
    const timeoutS = parseSeconds(stringFlag(ctx, 'timeout') ?? '7200', '--timeout', 'pull-hosts')
    const started = await ctx.client.call({ method: 'POST', path: PATH, body: { from } })
    if (ctx.flags.get('no-wait') === true)
      return done(ctx, started, `pulling hosts from ${from} (see: relay admin pull-hosts --status)`)
    if (!ctx.json) ctx.out.line(`pulling hosts from ${from} (Ctrl-C stops watching, not the pull)`)
    return watch(ctx, intervalS * 1000, timeoutS * 1000)
  },
}

async function watch(ctx: CommandContext, intervalMs: number, timeoutMs: number): Promise<number> {
  const deadline = ctx.now() + timeoutMs
  let previous = ''
  for (;;) {
    const answer = await ctx.client.call({ method: 'GET', path: PATH })
    const p = progressOf(answer)
    const state = stateOf(p)
    const line = progressLine(p)
    if (!ctx.json && line !== previous) ctx.out.line(line)
    previous = line
    if (state !== 'running') {
      if (ctx.json) ctx.out.json(answer)
      if (state === 'failed') throw new CommandFailed('failed', `pull-hosts failed: ${line}`)
      if (state === 'unknown' && !ctx.json)
        ctx.out.line(
          '(the relay did not say whether the pull is finished; see pull-hosts --status)',
        )
      return 0
    }
    if (ctx.now() >= deadline)
      throw new CommandFailed(
        'failed',
        `still running after ${timeoutMs / 1000} s; the relay keeps pulling (see: relay admin pull-hosts --status)`,
      )
    await ctx.sleep(intervalMs)
  }
}
