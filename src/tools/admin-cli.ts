// `relay admin ...`: a command-line client for a running relay's admin API
// (docs/admin-api.md). Parses the arguments, picks the subcommand, builds the HTTP
// client from --relay / --admin-key (or RELAY_URL, RELAY_ADMIN_KEY, RELAY_ADMIN_PASSWORD, also read
// from .env; without a URL, localhost on the port of RELAY_API_BIND or 2470), runs
// it and maps every failure to a message on stderr and an exit code:
//   0 ok, 1 the relay answered an error or could not be reached, 2 usage, 3 not offered (an older relay without the route).
// Deliberately not here: the subcommands themselves (admin/*-commands.ts) or any state: this
// talks to the relay over HTTP only.
import { setTimeout as delay } from 'node:timers/promises'
import { domainCommands, repoCommands } from './admin/account-commands.ts'
import { type FlagSpecs, parseLine, UsageError } from './admin/args.ts'
import { AdminClient, AdminRequestError } from './admin/client.ts'
import { CommandFailed, type CommandSpec, checkArgs, nameOf } from './admin/command.ts'
import { commandHelp, GLOBAL_FLAGS, groupHelp, overviewHelp } from './admin/help.ts'
import { hostCommands } from './admin/host-commands.ts'
import { Output, type TextSink } from './admin/output.ts'
import { pullHosts } from './admin/pull-hosts.ts'
import { relayCommands } from './admin/relay-commands.ts'

export interface AdminIo {
  readonly stdout: TextSink
  readonly stderr: TextSink
  readonly fetch: typeof fetch
  /** Waits between progress polls (default: a timer, cut short by `signal`). */
  readonly sleep?: (ms: number) => Promise<void>
  readonly now?: () => number
  /** Aborts requests and waits in flight. */
  readonly signal?: AbortSignal
}

/** Every subcommand, in the order the overview help lists them. */
export const ADMIN_COMMANDS: readonly CommandSpec[] = [
  ...hostCommands,
  ...domainCommands,
  ...repoCommands,
  ...relayCommands.filter((c) => c.words[0] === 'crawl'),
  ...relayCommands.filter((c) => c.words[0] !== 'crawl'),
  pullHosts,
]

const GROUPS = new Set(ADMIN_COMMANDS.filter((c) => c.words.length > 1).map((c) => c.words[0]))

export const DEFAULT_RELAY_URL = 'http://localhost:2470'

/**
 * The relay on this machine: `http://localhost:PORT`, with the port of RELAY_API_BIND (or
 * RELAY_API_LISTEN) when the environment or .env sets one, as for `relay serve`.
 */
export function localRelayUrl(env: Readonly<Record<string, string | undefined>>): string {
  const bind = env.RELAY_API_BIND || env.RELAY_API_LISTEN
  const port = bind ? /:(\d{1,5})$/.exec(bind.trim())?.[1] : undefined
  return port && port !== '0' ? `http://localhost:${port}` : DEFAULT_RELAY_URL
}

/**
 * A relay URL from what an operator typed: a full URL, or a bare `host[:port]` (https, except
 * for localhost and 127.0.0.1, which get http, as the shell scripts do).
 */
export function relayUrlFrom(text: string): string {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text)
    ? text
    : /^(localhost|127\.0\.0\.1|\[::1\])(:|\/|$)/.test(text)
      ? `http://${text}`
      : `https://${text}`
  let url: URL
  try {
    url = new URL(withScheme)
  } catch {
    throw new UsageError(`--relay: "${text}" is not a URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new UsageError(`--relay: "${text}" must be an http:// or https:// URL`)
  return url.href.replace(/\/+$/, '')
}

/** The command named by the leading words, if any. */
function findCommand(words: readonly string[]): CommandSpec | undefined {
  return ADMIN_COMMANDS.find((c) => c.words.every((w, i) => words[i] === w))
}

function specsFor(words: readonly string[]): FlagSpecs {
  const cmdWords = words[0] === 'help' ? words.slice(1) : words
  return { ...GLOBAL_FLAGS, ...(findCommand(cmdWords)?.flags ?? {}) }
}

export async function adminCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: AdminIo = { stdout: process.stdout, stderr: process.stderr, fetch: globalThis.fetch },
): Promise<number> {
  const err = (text: string) => io.stderr.write(`${text}\n`)
  let spec: CommandSpec | undefined
  try {
    const line = parseLine(argv, specsFor)
    const helpWanted = line.flags.has('help') || line.flags.has('h') || line.words[0] === 'help'
    const words = line.words[0] === 'help' ? line.words.slice(1) : line.words
    spec = findCommand(words)
    if (helpWanted) {
      io.stdout.write(helpFor(words, spec))
      return 0
    }
    if (spec === undefined) {
      if (words.length === 0) {
        io.stderr.write(overviewHelp(ADMIN_COMMANDS))
        return 2
      }
      const group = words[0] ?? ''
      if (GROUPS.has(group)) {
        const sub = words[1]
        err(
          `relay admin ${group}: ${sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`}`,
        )
        io.stderr.write(groupHelp(group, ADMIN_COMMANDS))
        return 2
      }
      throw new UsageError(`unknown command "${group}"`)
    }
    const args = words.slice(spec.words.length)
    checkArgs(spec, args)
    const relayFlag = line.flags.get('relay')
    const baseUrl = relayUrlFrom(
      typeof relayFlag === 'string' ? relayFlag : env.RELAY_URL || localRelayUrl(env),
    )
    const keyFlag = line.flags.get('admin-key')
    const key = typeof keyFlag === 'string' ? keyFlag : keyFromEnv(env)
    if (!key)
      throw new UsageError(
        'no admin key: pass --admin-key KEY or set RELAY_ADMIN_KEY',
        nameOf(spec),
      )
    const signal = io.signal
    const client = new AdminClient({ baseUrl, key, fetch: io.fetch, signal })
    return await spec.run({
      client,
      args,
      flags: line.flags,
      json: line.flags.get('json') === true,
      out: new Output(io.stdout),
      sleep: io.sleep ?? ((ms) => delay(ms, undefined, { signal })),
      now: io.now ?? Date.now,
    })
  } catch (e) {
    const prefix = `relay admin${spec ? ` ${nameOf(spec)}` : ''}`
    if (e instanceof UsageError) {
      err(`relay admin${e.command ? ` ${e.command}` : ''}: ${e.message}`)
      err(`(see: relay admin${e.command ? ` ${e.command}` : ''} --help)`)
      return 2
    }
    if (e instanceof AdminRequestError) {
      if (e.code === 'unavailable') {
        err(
          `${prefix}: ${spec?.unavailable ?? `this relay does not offer ${e.route}`} (${e.message})`,
        )
        return 3
      }
      if (e.code === 'unauthorized') {
        err(
          `${prefix}: the relay refused the admin key (${e.message}); check --admin-key or RELAY_ADMIN_KEY`,
        )
        return 1
      }
      err(`${prefix}: ${e.code === 'http' ? `${e.route}: ` : ''}${e.message}`)
      return 1
    }
    if (e instanceof CommandFailed) {
      err(`${prefix}: ${e.message}`)
      return e.code === 'unavailable' ? 3 : 1
    }
    if (io.signal?.aborted) {
      err(`${prefix}: interrupted`)
      return 130
    }
    throw e
  }
}

function helpFor(words: readonly string[], spec: CommandSpec | undefined): string {
  if (spec) return commandHelp(spec)
  const group = words[0]
  if (group !== undefined && GROUPS.has(group)) return groupHelp(group, ADMIN_COMMANDS)
  return overviewHelp(ADMIN_COMMANDS)
}

/** RELAY_ADMIN_KEY, else RELAY_ADMIN_PASSWORD; of a comma-separated list (rotation), the first. */
function keyFromEnv(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const raw = env.RELAY_ADMIN_KEY || env.RELAY_ADMIN_PASSWORD
  return raw
    ?.split(',')
    .map((k) => k.trim())
    .find((k) => k !== '')
}
