// `--wait` for commands that start background work on the relay (a host's resync, compaction):
// polls the work's progress route and prints a line each time the progress changes, until its
// `status` is no longer `running`. A `failed` end is exit 1; Ctrl-C stops watching, never the
// work (the relay carries on). There is no deadline: a large PDS's resync takes hours, and the
// operator who asked to wait decides when to stop.
// Deliberately not here: what a progress line says (the commands render their own).
import { parseSeconds } from './args.ts'
import type { AdminRequest } from './client.ts'
import {
  type CommandContext,
  CommandFailed,
  type CommandSpec,
  nameOf,
  stringFlag,
} from './command.ts'
import { isRecord, str } from './output.ts'

export const WAIT_FLAGS = {
  wait: { help: 'follow the progress until it is done (Ctrl-C stops watching, not the work)' },
  interval: { value: 'SECONDS', help: 'between progress polls with --wait (default 5)' },
} as const

export interface Watched {
  /** The progress route (a GET). */
  readonly request: AdminRequest
  /** The progress object in an answer (`answer.resync`, `answer.compaction`). */
  readonly progress: (answer: unknown) => unknown
  /** One line for a progress object. */
  readonly line: (progress: Record<string, unknown>) => string
  /** `resync of pds.example.com`, for the failure message. */
  readonly what: string
}

/** Whether the command was asked to wait (`--wait`), checking `--interval` first. */
export function waitInterval(ctx: CommandContext, spec: CommandSpec): number | undefined {
  const text = stringFlag(ctx, 'interval')
  const seconds = parseSeconds(text ?? '5', '--interval', nameOf(spec))
  return ctx.flags.get('wait') === true ? seconds * 1000 : undefined
}

/** Polls until the work ends; with --json prints only the last answer. */
export async function watchProgress(
  ctx: CommandContext,
  w: Watched,
  intervalMs: number,
): Promise<number> {
  let previous = ''
  for (;;) {
    const answer = await ctx.client.call(w.request)
    const p = w.progress(answer)
    if (!isRecord(p))
      throw new CommandFailed('failed', `${w.request.method} ${w.request.path}: no progress`)
    const status = str(p, 'status')
    const line = w.line(p)
    if (!ctx.json && line !== previous) ctx.out.line(line)
    previous = line
    if (status !== 'running') {
      if (ctx.json) ctx.out.json(answer)
      if (status === 'failed') throw new CommandFailed('failed', `${w.what} failed`)
      return 0
    }
    await ctx.sleep(intervalMs)
  }
}
