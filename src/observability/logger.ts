// Structured logs to stderr (pino), one child logger per subsystem (`subsystem` field): JSON lines
// in production, a human-readable form (pino-pretty) when stderr is a terminal or when asked
// (`--log-format`). Secrets are redacted by path as a second line of defence; callers never log
// them knowingly (admin keys are never logged; database URLs are logged redacted).
import { type Logger, pino } from 'pino'
import pretty from 'pino-pretty'

export type { Logger }

const REDACT = [
  'adminPasswords',
  '*.adminPasswords',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'password',
  '*.password',
]

export function createLogger(level: string, format: 'auto' | 'json' | 'pretty' = 'json'): Logger {
  const options = {
    level,
    base: { service: 'atproto-relay' },
    redact: { paths: REDACT, censor: '***' },
    timestamp: pino.stdTimeFunctions.isoTime,
  }
  const readable = format === 'pretty' || (format === 'auto' && process.stderr.isTTY === true)
  if (readable) {
    return pino(
      options,
      pretty({
        destination: 2,
        colorize: process.stderr.isTTY === true,
        ignore: 'pid,hostname,service',
        singleLine: true,
      }),
    )
  }
  return pino(options, pino.destination({ dest: 2, sync: false }))
}

/** A logger that drops everything (tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
