// The shape of one `relay admin` subcommand (its words, arguments, flags, help and action) and
// the context an action runs in, plus the small helpers actions share (required arguments,
// "ok" lines for mutations). Deliberately not here: parsing argv or choosing a command
// (admin-cli.ts), HTTP details (client.ts).
import { type FlagSpecs, UsageError } from './args.ts'
import type { AdminClient } from './client.ts'
import type { Output } from './output.ts'

export interface CommandContext {
  readonly client: AdminClient
  /** Positional arguments after the command words. */
  readonly args: readonly string[]
  readonly flags: ReadonlyMap<string, string | true>
  /** `--json`: print the raw answer instead of a summary. */
  readonly json: boolean
  readonly out: Output
  /** Waits between polls; resolves early (or rejects) when the command is aborted. */
  readonly sleep: (ms: number) => Promise<void>
  /** The clock, for "5m ago" columns. */
  readonly now: () => number
}

export interface CommandSpec {
  /** The words that name it: `['host', 'list']`, `['consumers']`. */
  readonly words: readonly string[]
  /** Positional arguments, e.g. `HOST`, `[N]` (optional). */
  readonly args: readonly string[]
  readonly summary: string
  /** One example invocation after `relay admin `. */
  readonly example: string
  /** Longer help, shown by `--help` after the usage line. */
  readonly details?: string
  readonly flags?: FlagSpecs
  /** What to say when the relay does not offer the route (exit 3); a generic line otherwise. */
  readonly unavailable?: string
  /** Answers the exit code (0 ok); throws UsageError or AdminRequestError on failure. */
  readonly run: (ctx: CommandContext) => Promise<number>
}

/** `host list`, for messages. */
export const nameOf = (spec: CommandSpec): string => spec.words.join(' ')

/** Checks the argument count against the spec (optional ones are written `[NAME]`). */
export function checkArgs(spec: CommandSpec, args: readonly string[]): void {
  const required = spec.args.filter((a) => !a.startsWith('[')).length
  if (args.length < required) {
    const missing = spec.args.slice(args.length, required).join(' ')
    throw new UsageError(`missing ${missing}`, nameOf(spec))
  }
  if (args.length > spec.args.length)
    throw new UsageError(`unexpected argument "${args[spec.args.length]}"`, nameOf(spec))
  for (const a of args) {
    if (a.trim() === '') throw new UsageError('empty argument', nameOf(spec))
  }
}

/** The nth positional argument (checked present by checkArgs). */
export const arg = (ctx: CommandContext, i: number): string => ctx.args[i] ?? ''

export function requireDid(did: string, command: string): string {
  if (!/^did:[a-z]+:[A-Za-z0-9._:%-]+$/.test(did))
    throw new UsageError(`"${did}" is not a DID (did:plc:... or did:web:...)`, command)
  return did
}

/** Prints a mutation's answer: the raw JSON with --json, else `message`. */
export function done(ctx: CommandContext, answer: unknown, message: string): number {
  if (ctx.json) ctx.out.json(answer)
  else ctx.out.line(message)
  return 0
}

/** A string flag's value, or undefined when absent. */
export function stringFlag(ctx: CommandContext, name: string): string | undefined {
  const v = ctx.flags.get(name)
  return typeof v === 'string' ? v : undefined
}

export type CommandFailureCode =
  /** The relay answered, but not what the command needs (exit 1). */
  | 'failed'
  /** The relay does not offer what the command needs (exit 3). */
  | 'unavailable'

/** A command that cannot complete for a reason other than an HTTP error (e.g. unknown host). */
export class CommandFailed extends Error {
  readonly code: CommandFailureCode

  constructor(code: CommandFailureCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'CommandFailed'
    this.code = code
  }
}
