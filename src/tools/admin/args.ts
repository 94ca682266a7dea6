// Argument parsing for `relay admin`: finds the subcommand words among the arguments and
// collects its flags (`--flag VALUE`, `--flag=VALUE`, boolean `--flag`; `--` ends flags).
// Flags may come before or after the subcommand words; a flag is only known once the command
// that owns it has been named, so a subcommand's own flags must follow its words.
// Deliberately not here: what any flag means or whether its value is valid (the commands).

export class UsageError extends Error {
  readonly code = 'usage'
  /** The command words the error is about, for the help hint ('' for the top level). */
  readonly command: string

  constructor(message: string, command = '') {
    super(message)
    this.name = 'UsageError'
    this.command = command
  }
}

export interface FlagSpec {
  /** Placeholder for the value (`N`, `URL`); absent for a boolean flag. */
  readonly value?: string
  readonly help: string
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>

export interface ParsedLine {
  /** The non-flag words, in order (command words first, then the command's arguments). */
  readonly words: readonly string[]
  /** By flag name without dashes; `true` for a boolean flag. The last occurrence wins. */
  readonly flags: ReadonlyMap<string, string | true>
}

/**
 * Parses `argv`. `specsFor(words)` answers the flags known once `words` have been seen (the
 * global ones plus those of the command the words name, if any).
 */
export function parseLine(
  argv: readonly string[],
  specsFor: (words: readonly string[]) => FlagSpecs,
): ParsedLine {
  const words: string[] = []
  const flags = new Map<string, string | true>()
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i] ?? ''
    if (token === '--') {
      words.push(...argv.slice(i + 1))
      break
    }
    if (!token.startsWith('-') || token === '-' || /^-\d/.test(token)) {
      words.push(token)
      continue
    }
    const body = token.replace(/^--?/, '')
    const eq = body.indexOf('=')
    const name = eq < 0 ? body : body.slice(0, eq)
    const specs = specsFor(words)
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined
    const where = words.join(' ')
    if (spec === undefined) throw new UsageError(`unknown option --${name}`, where)
    if (spec.value === undefined) {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`, where)
      flags.set(name, true)
      continue
    }
    if (eq >= 0) {
      flags.set(name, body.slice(eq + 1))
      continue
    }
    const next = argv[i + 1]
    if (next === undefined) throw new UsageError(`--${name} needs a value (${spec.value})`, where)
    flags.set(name, next)
    i++
  }
  return { words, flags }
}

/** A non-negative integer flag or argument, or a UsageError naming it. */
export function parseCount(text: string, what: string, command: string): number {
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text)))
    throw new UsageError(`${what} must be a non-negative integer, not "${text}"`, command)
  return Number(text)
}

/** A duration in seconds (`2`, `0.5`), or a UsageError naming it. */
export function parseSeconds(text: string, what: string, command: string): number {
  const n = Number(text)
  if (text.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new UsageError(`${what} must be a number of seconds, not "${text}"`, command)
  return n
}
