// The one failure configuration loading reports: ConfigError. Its message is meant for the
// operator who typed the setting: it names the setting (and the variable or file it came from
// when that is not the flag itself), quotes the bad value unless the setting is secret, and says
// what would be accepted. Callers branch on `code`; `setting` is the canonical flag
// (`--replay-window`), `origin` where the bad text came from (`--replay-window`,
// `RELAY_EVENT_PLAYBACK_TTL`, `/srv/relay/.env:12`).
// Deliberately not here: printing, exit codes (the command line entry point decides those).

export type ConfigErrorCode =
  | 'unknown-flag' // a flag no setting answers to
  | 'missing-value' // a flag that takes a value was given none
  | 'unexpected-value' // a value given to a flag that takes none (`--no-x=1`)
  | 'invalid-value' // the value does not parse, or is out of range
  | 'conflict' // two settings contradict each other
  | 'dotenv-syntax' // a line of `.env` is not `KEY=value`
  | 'dotenv-unreadable' // `.env` exists but cannot be read

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  readonly code: ConfigErrorCode
  /** Canonical flag of the setting (`--bind`), or `.env` for a file-level problem. */
  readonly setting: string
  /** Where the offending text came from: a flag spelling, a variable name, or `file:line`. */
  readonly origin: string

  constructor(
    code: ConfigErrorCode,
    setting: string,
    origin: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    const where = origin === setting ? setting : `${setting} (from ${origin})`
    super(`${where}: ${problem}`, options)
    this.code = code
    this.setting = setting
    this.origin = origin
  }
}

/**
 * Thrown by the value parsers in formats.ts: what is wrong with one value, without knowing which
 * setting it was for. The loader wraps it into a ConfigError naming the setting.
 */
export class InvalidValueError extends Error {
  override readonly name = 'InvalidValueError'
}
