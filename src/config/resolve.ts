// Precedence: for every setting, the text it takes and where that came from.
//   1. the command line (value settings: the last occurrence; lists: every occurrence, joined)
//   2. the process environment: the setting's variables in table order, the first one set wins
//   3. `.env` in the working directory, same order
//   4. the table's default
// An empty (or blank) variable counts as unset, so `RELAY_X=` in a compose file means "default".
// Also collects warnings for RELAY_* variables no setting reads (typos).
// Deliberately not here: parsing the texts into values (load.ts), reading the file (load.ts).

// A name only: this module loads no library.
import { SYSTEM_LIBRARY_ENV } from '../verify/crypto/k256-system.ts'
import type { CommandLine } from './cli.ts'
import type { SettingSource } from './config.ts'
import type { DotenvEntry } from './dotenv.ts'
import { parseList } from './formats.ts'
import { SETTINGS, type SettingDef } from './settings.ts'

export interface ResolvedSetting {
  readonly def: SettingDef
  /** Text for value and boolean settings; undefined when unset with no default. */
  readonly text: string | undefined
  /** Items for list settings (empty for others). */
  readonly items: readonly string[]
  readonly source: SettingSource
  /** How errors name the source: `--api-listen`, `RELAY_API_LISTEN`, `/srv/.env:3`. */
  readonly origin: string
}

export interface Resolution {
  readonly settings: ReadonlyMap<string, ResolvedSetting>
  readonly warnings: readonly string[]
}

export interface DotenvFile {
  readonly path: string
  readonly entries: ReadonlyMap<string, DotenvEntry>
}

/** Variables other tools share with the relay's .env (goat's RELAY_HOST): never warned about. */
const FOREIGN_RELAY_VARIABLES = new Set(['RELAY_HOST'])

/**
 * Variables the relay reads from the process environment itself, before its settings, in every
 * thread (the k256 library, chosen as the signature module loads): known, but not from `.env`.
 */
const PROCESS_ONLY_VARIABLES = new Set([SYSTEM_LIBRARY_ENV])

export function resolveSettings(
  commandLine: CommandLine,
  env: Readonly<Record<string, string | undefined>>,
  dotenv: DotenvFile | undefined,
): Resolution {
  const settings = new Map<string, ResolvedSetting>()
  for (const def of SETTINGS) {
    settings.set(def.flag, resolveOne(def, commandLine, env, dotenv))
  }
  const known = new Set(SETTINGS.flatMap((def) => def.env))
  const warnings: string[] = []
  const unknown = (name: string): boolean =>
    name.startsWith('RELAY_') &&
    !known.has(name) &&
    !FOREIGN_RELAY_VARIABLES.has(name) &&
    !PROCESS_ONLY_VARIABLES.has(name)
  for (const name of Object.keys(env).filter(unknown).sort()) {
    warnings.push(`environment variable ${name} is not a relay setting (ignored)`)
  }
  for (const [name, entry] of dotenv?.entries ?? []) {
    const where = `${dotenv?.path}:${entry.line}`
    if (unknown(name)) warnings.push(`${where}: ${name} is not a relay setting (ignored)`)
    if (PROCESS_ONLY_VARIABLES.has(name)) {
      warnings.push(`${where}: ${name} is read from the process environment only (ignored here)`)
    }
  }
  return { settings, warnings }
}

function resolveOne(
  def: SettingDef,
  commandLine: CommandLine,
  env: Readonly<Record<string, string | undefined>>,
  dotenv: DotenvFile | undefined,
): ResolvedSetting {
  const occurrences = commandLine.flags.get(def.flag) ?? []
  const last = occurrences.at(-1)
  if (last !== undefined) {
    const source: SettingSource = { kind: 'flag', name: last.spelled }
    if (def.kind === 'list') {
      const items = occurrences.flatMap((occurrence) => parseList(occurrence.value))
      return { def, text: undefined, items, source, origin: last.spelled }
    }
    return { def, text: last.value, items: [], source, origin: last.spelled }
  }
  for (const name of def.env) {
    const value = env[name]
    if (value !== undefined && value.trim() !== '') {
      return fromText(def, value, { kind: 'env', name }, name)
    }
  }
  if (dotenv !== undefined) {
    for (const name of def.env) {
      const entry = dotenv.entries.get(name)
      if (entry !== undefined && entry.value.trim() !== '') {
        const source: SettingSource = {
          kind: 'dotenv',
          name,
          file: dotenv.path,
          line: entry.line,
        }
        return fromText(def, entry.value, source, `${name} in ${dotenv.path}:${entry.line}`)
      }
    }
  }
  return fromText(def, def.default, { kind: 'default' }, `--${def.flag}`)
}

function fromText(
  def: SettingDef,
  text: string | undefined,
  source: SettingSource,
  origin: string,
): ResolvedSetting {
  if (def.kind === 'list') {
    return {
      def,
      text: undefined,
      items: text === undefined ? [] : parseList(text),
      source,
      origin,
    }
  }
  return { def, text, items: [], source, origin }
}
