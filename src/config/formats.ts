// Parsers for the scalar value formats settings use: booleans, integers, durations, lists, log
// levels, choices. Each takes the text as given and returns the typed value or throws
// InvalidValueError saying what was expected, with examples; none knows which setting it parses
// (the loader names the setting). Addresses and URLs are in addresses.ts, database URLs in
// database-url.ts.
// Deliberately not here: defaults, precedence, or any I/O.

import { InvalidValueError } from './errors.ts'

/** Quote a value for an error message (JSON string syntax, cut to a readable length). */
export function quote(text: string): string {
  return JSON.stringify(text.length > 120 ? `${text.slice(0, 117)}...` : text)
}

const TRUE_WORDS = new Set(['true', 't', '1'])
const FALSE_WORDS = new Set(['false', 'f', '0'])

/** `true`/`false` (any case), `1`/`0`, and Go's `t`/`f`. */
export function parseBoolean(text: string): boolean {
  const word = text.trim().toLowerCase()
  if (TRUE_WORDS.has(word)) return true
  if (FALSE_WORDS.has(word)) return false
  throw new InvalidValueError(`${quote(text)} is not a boolean (use true or false)`)
}

export interface IntegerBounds {
  readonly min: number
  readonly max?: number
}

/** A decimal integer (`_` allowed between digits: `1_000_000`) within [min, max]. */
export function parseInteger(text: string, bounds: IntegerBounds): number {
  const trimmed = text.trim()
  if (!/^[+-]?\d+(?:_\d+)*$/.test(trimmed)) {
    throw new InvalidValueError(`${quote(text)} is not a whole number (examples: 100, 1_000_000)`)
  }
  const value = Number(trimmed.replaceAll('_', ''))
  const max = bounds.max ?? Number.MAX_SAFE_INTEGER
  if (!Number.isSafeInteger(value) || value < bounds.min || value > max) {
    throw new InvalidValueError(`${quote(text)} is out of range (${bounds.min} to ${max})`)
  }
  return value
}

const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3, // U+00B5 micro sign, as Go accepts
  μs: 1e-3, // U+03BC Greek mu, as Go accepts
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000, // not Go; accepted because operators write 3d
}

const DURATION_PART = /(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)/y
const DURATION_EXAMPLES = '(examples: 72h, 30m, 10s, 500ms, 1h30m)'

export interface DurationBounds {
  readonly minMs: number
  readonly maxMs: number
}

/**
 * A Go-style duration (`72h`, `1h30m`, `1.5s`, `500ms`, `250us`, `0`) plus days (`3d`), in whole
 * milliseconds (sub-millisecond parts are rounded). A bare number other than 0 is refused: a
 * unit is required, as in Go.
 */
export function parseDuration(text: string, bounds: DurationBounds): number {
  const trimmed = text.trim()
  let ms: number
  if (trimmed === '0' || trimmed === '+0') {
    ms = 0
  } else {
    if (/^-[\d.]/.test(trimmed)) throw new InvalidValueError(`${quote(text)} is negative`)
    const body = trimmed.startsWith('+') ? trimmed.slice(1) : trimmed
    if (body === '') {
      throw new InvalidValueError(`${quote(text)} is not a duration ${DURATION_EXAMPLES}`)
    }
    if (/^\d+(?:\.\d*)?$/.test(body)) {
      throw new InvalidValueError(`${quote(text)} has no unit ${DURATION_EXAMPLES}`)
    }
    let total = 0
    DURATION_PART.lastIndex = 0
    while (DURATION_PART.lastIndex < body.length) {
      const match = DURATION_PART.exec(body)
      if (match === null) {
        throw new InvalidValueError(`${quote(text)} is not a duration ${DURATION_EXAMPLES}`)
      }
      total += Number(match[1]) * (DURATION_UNITS_MS[match[2] ?? ''] ?? Number.NaN)
    }
    ms = Math.round(total)
  }
  if (!Number.isSafeInteger(ms) || ms < bounds.minMs || ms > bounds.maxMs) {
    throw new InvalidValueError(
      `${quote(text)} is out of range (${formatDuration(bounds.minMs)} to ${formatDuration(bounds.maxMs)})`,
    )
  }
  return ms
}

/** Milliseconds back to the shortest duration text parseDuration reads: `72h`, `1h30m`, `1.5s`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  let rest = Math.round(ms)
  let out = ''
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const) {
    const n = Math.floor(rest / size)
    if (n > 0) out += `${n}${unit}`
    rest -= n * size
  }
  if (rest >= 1000) {
    const seconds = rest / 1000
    out += `${seconds}s`
  } else if (rest > 0) {
    out += `${rest}ms`
  }
  return out
}

/** A comma-separated list: items trimmed, empty items dropped (`a, b,,c` → a, b, c). */
export function parseList(text: string): string[] {
  return text
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '')
}

/** One of a fixed set of words (case-insensitive). */
export function parseChoice<T extends string>(text: string, choices: readonly T[]): T {
  const word = text.trim().toLowerCase()
  const found = choices.find((choice) => choice === word)
  if (found === undefined) {
    throw new InvalidValueError(`${quote(text)} is not one of ${choices.join(', ')}`)
  }
  return found
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'

const LOG_LEVEL_WORDS: ReadonlyMap<string, LogLevel> = new Map([
  ['trace', 'trace'],
  ['debug', 'debug'],
  ['info', 'info'],
  ['warn', 'warn'],
  ['warning', 'warn'],
  ['error', 'error'],
  ['err', 'error'],
  // Go (zap/go-log) levels above error all mean "only the worst".
  ['dpanic', 'fatal'],
  ['panic', 'fatal'],
  ['fatal', 'fatal'],
  ['critical', 'fatal'],
  ['silent', 'silent'],
  ['off', 'silent'],
  ['none', 'silent'],
])

/**
 * A log level in our words or Go's (`WARNING`, `dpanic`, `panic`, `fatal`, any case). go-log's
 * `GOLOG_LOG_LEVEL` form `error,subsystem=debug` is accepted: the part without `=` is the level,
 * per-subsystem parts are ignored. Returns undefined when only per-subsystem parts are present.
 */
export function parseLogLevel(text: string): LogLevel | undefined {
  const parts = parseList(text)
  const global = parts.filter((part) => !part.includes('='))
  if (global.length === 0 && parts.length > 0) return undefined
  const word = (global.at(-1) ?? '').toLowerCase()
  const level = LOG_LEVEL_WORDS.get(word)
  if (level === undefined) {
    throw new InvalidValueError(
      `${quote(text)} is not a log level (use trace, debug, info, warn, error, fatal or silent)`,
    )
  }
  return level
}
