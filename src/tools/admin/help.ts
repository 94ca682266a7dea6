// Help text for `relay admin`: the overview of every command, one group's commands, and one
// command's usage with its flags and an example. Deliberately not here: choosing which help
// to show, or where it goes (admin-cli.ts).
import type { FlagSpecs } from './args.ts'
import { type CommandSpec, nameOf } from './command.ts'

export const GLOBAL_FLAGS: FlagSpecs = {
  relay: { value: 'URL', help: 'the relay (default $RELAY_URL, else http://localhost:2470)' },
  'admin-key': {
    value: 'KEY',
    help: 'admin key (default $RELAY_ADMIN_KEY, else $RELAY_ADMIN_PASSWORD)',
  },
  json: { help: "print the relay's raw JSON answer instead of a summary" },
  help: { help: 'this help; after a command, that command’s help' },
  h: { help: 'same as --help' },
}

const EXIT_CODES =
  'exit codes: 0 ok, 1 the relay answered an error or could not be reached, 2 usage error,\n' +
  '            3 the relay does not offer this (an older version)'

function usageOf(spec: CommandSpec): string {
  const flags = Object.entries(spec.flags ?? {}).map(([name, f]) =>
    f.value ? `[--${name} ${f.value}]` : `[--${name}]`,
  )
  return ['relay admin', nameOf(spec), ...spec.args, ...flags, '[--json]'].join(' ')
}

function flagLines(flags: FlagSpecs): string[] {
  const entries = Object.entries(flags).filter(([name]) => name !== 'h')
  const left = entries.map(([name, f]) => (f.value ? `--${name} ${f.value}` : `--${name}`))
  const width = Math.max(...left.map((l) => l.length))
  return entries.map(([, f], i) => `  ${(left[i] ?? '').padEnd(width)}  ${f.help}`)
}

function commandLines(specs: readonly CommandSpec[]): string[] {
  const left = specs.map((s) => [nameOf(s), ...s.args].join(' '))
  const width = Math.max(...left.map((l) => l.length))
  return specs.map((s, i) => `  ${(left[i] ?? '').padEnd(width)}  ${s.summary}`)
}

export function overviewHelp(specs: readonly CommandSpec[]): string {
  return [
    'relay admin: manage a running relay through its admin API',
    '',
    'usage: relay admin [--relay URL] [--admin-key KEY] [--json] COMMAND [ARGS]',
    '',
    ...flagLines(GLOBAL_FLAGS),
    '',
    'commands:',
    ...commandLines(specs),
    '',
    EXIT_CODES,
    '',
  ].join('\n')
}

export function groupHelp(group: string, specs: readonly CommandSpec[]): string {
  const mine = specs.filter((s) => s.words[0] === group)
  return [
    `usage: relay admin ${group} SUBCOMMAND [ARGS] [--json]`,
    '',
    'subcommands:',
    ...commandLines(mine),
    '',
    `more: relay admin ${group} SUBCOMMAND --help`,
    '',
  ].join('\n')
}

export function commandHelp(spec: CommandSpec): string {
  const lines = [`usage: ${usageOf(spec)}`, '', spec.summary]
  if (spec.details) lines.push('', spec.details)
  if (spec.flags && Object.keys(spec.flags).length > 0)
    lines.push('', 'options:', ...flagLines(spec.flags))
  lines.push('', `example: relay admin ${spec.example}`, '')
  return lines.join('\n')
}
