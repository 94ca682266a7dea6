// The command line: `relay [command] [args] [flags]`, flags anywhere before `--`.
//   --flag VALUE, --flag=VALUE     (a single leading dash works too, as with Go flags)
//   --flag, --flag=false, --no-flag for boolean settings
//   list settings may be repeated; each value may also be comma-separated
//   a flag given twice that is not a list: the last one wins (so scripts can append overrides)
//   -h / --help, --version
// Flags are looked up in the SETTINGS table; an unknown flag is a ConfigError (with a
// suggestion when one is close). helpText() prints every setting from the same table.
// Deliberately not here: parsing or validating values (load.ts), choosing what a command does.

import { ConfigError } from './errors.ts'
import { findSetting, SETTINGS, type SettingDef, type SettingGroup } from './settings.ts'

export interface FlagValue {
  /** The flag as typed (`--api-listen`, `--no-allow-insecure-hosts`): errors quote it. */
  readonly spelled: string
  /** The value text; `true`/`false` for a boolean given without one. */
  readonly value: string
}

export interface CommandLine {
  /** First positional word (`serve`); '' when there is none. */
  readonly command: string
  /** Positional words after the command, and everything after `--`. */
  readonly args: readonly string[]
  /** By canonical flag name (no dashes), every occurrence in order. */
  readonly flags: ReadonlyMap<string, readonly FlagValue[]>
  readonly help: boolean
  readonly version: boolean
}

export function parseCommandLine(argv: readonly string[]): CommandLine {
  const positional: string[] = []
  const flags = new Map<string, FlagValue[]>()
  let help = false
  let version = false
  const add = (def: SettingDef, value: FlagValue): void => {
    const list = flags.get(def.flag) ?? []
    list.push(value)
    flags.set(def.flag, list)
  }
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? ''
    if (token === '--') {
      positional.push(...argv.slice(i + 1))
      break
    }
    if (!token.startsWith('-') || token === '-') {
      positional.push(token)
      continue
    }
    const body = token.replace(/^--?/, '')
    const eq = body.indexOf('=')
    const name = eq < 0 ? body : body.slice(0, eq)
    const inline = eq < 0 ? undefined : body.slice(eq + 1)
    const spelled = `--${name}`
    if (name === 'help' || name === 'h') {
      help = true
      continue
    }
    if (name === 'version') {
      version = true
      continue
    }
    const def = findSetting(name)
    if (def === undefined) {
      const negated = name.startsWith('no-') ? findSetting(name.slice(3)) : undefined
      if (negated?.kind !== 'boolean') throw unknownFlag(spelled)
      if (inline !== undefined) {
        throw new ConfigError(
          'unexpected-value',
          `--${negated.flag}`,
          spelled,
          `takes no value (use --${negated.flag}=${inline} instead)`,
        )
      }
      add(negated, { spelled, value: 'false' })
      continue
    }
    if (def.kind === 'boolean') {
      add(def, { spelled, value: inline ?? 'true' })
      continue
    }
    if (inline !== undefined) {
      add(def, { spelled, value: inline })
      continue
    }
    const next = argv[i + 1]
    if (next === undefined || next.startsWith('--')) {
      throw new ConfigError(
        'missing-value',
        `--${def.flag}`,
        spelled,
        `needs a value (${spelled} ${def.valueName})`,
      )
    }
    add(def, { spelled, value: next })
    i++
  }
  const [command = '', ...args] = positional
  return { command, args, flags, help, version }
}

function unknownFlag(spelled: string): ConfigError {
  const name = spelled.slice(2)
  let best: string | undefined
  let bestDistance = 3
  for (const def of SETTINGS) {
    for (const candidate of [def.flag, ...def.aliases]) {
      const distance = editDistance(name, candidate)
      if (distance < bestDistance) {
        best = candidate
        bestDistance = distance
      }
    }
  }
  const hint = best === undefined ? 'see relay --help' : `did you mean --${best}?`
  return new ConfigError('unknown-flag', spelled, spelled, `unknown flag (${hint})`)
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1)
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution)
    }
    previous = current
  }
  return previous[b.length] ?? 0
}

export interface CommandHelp {
  readonly usage: string
  readonly summary: string
}

const DEFAULT_COMMANDS: readonly CommandHelp[] = [
  { usage: 'relay serve [flags]', summary: 'run the relay' },
  { usage: 'relay check', summary: 'report the signature backends this install will use' },
  { usage: 'relay help', summary: 'this text (also -h, --help)' },
  { usage: 'relay --version', summary: 'print the version' },
]

const GROUP_ORDER: readonly SettingGroup[] = [
  'Listening and consumers',
  'Admin',
  'Storage and event log',
  'Upstream hosts',
  'Verification',
  'Identity',
  'Operations',
]

const HELP_WIDTH = 96

/** Wrap words (never broken) to HELP_WIDTH columns, every line starting with `indent`. */
function wrap(words: readonly string[], indent: string): string[] {
  const lines: string[] = []
  let line = indent
  for (const word of words) {
    if (line !== indent && line.length + 1 + word.length > HELP_WIDTH) {
      lines.push(line)
      line = `${indent}  ${word}`
    } else {
      line = line === indent ? `${indent}${word}` : `${line} ${word}`
    }
  }
  lines.push(line)
  return lines
}

/** What `relay --help` prints: commands, every flag with its variables and default, formats. */
export function helpText(commands: readonly CommandHelp[] = DEFAULT_COMMANDS): string {
  const width = Math.max(...commands.map((command) => command.usage.length)) + 2
  const out = [
    'relay: an atproto relay',
    '',
    'Usage:',
    ...commands.map((command) => `  ${command.usage.padEnd(width)}${command.summary}`),
    '',
    'Every flag can also be set by the environment variables listed under it, or by a .env file',
    'in the working directory (KEY=value lines). Flags win over the environment, the environment',
    'over .env, and .env over defaults. An empty variable counts as unset. Relative paths are',
    'resolved against the working directory.',
  ]
  for (const group of GROUP_ORDER) {
    out.push('', `${group}:`)
    for (const def of SETTINGS.filter((candidate) => candidate.group === group)) {
      const names = [def.flag, ...def.aliases].map((name) => `--${name}`).join(', ')
      const value = def.kind === 'boolean' ? '' : ` ${def.valueName}`
      const repeat = def.kind === 'list' ? ' (repeatable)' : ''
      out.push(`  ${names}${value}${repeat}`)
      const defaultText = def.defaultText ?? def.default ?? 'none'
      out.push(...wrap(def.help.split(' '), '      '))
      const envWords = `env: ${def.env.join(', ')};`.split(' ')
      out.push(...wrap([...envWords, `default: ${defaultText}`], '      '))
    }
  }
  out.push(
    '',
    'Formats:',
    '  DURATION    72h, 30m, 10s, 500ms, 1h30m, 1.5s (Go durations; 3d also works)',
    '  HOST:PORT   :2470 (every IPv4 interface), 127.0.0.1:2470, [::]:2470 (IPv6); port 0 picks',
    '              a free port',
    '  booleans    true/false or 1/0; a boolean flag alone means true, --no-FLAG means false',
    '  lists       comma-separated; list flags may also be repeated',
    '  N           a whole number; 1_000_000 is allowed',
  )
  return `${out.join('\n')}\n`
}
