// Structured JSON logs to stderr (pino), one child logger per subsystem (`subsystem` field).
// Secrets are redacted by path as a second line of defence; callers never log them knowingly.
import { type Logger, pino } from 'pino'

export type { Logger }

export function createLogger(level: string): Logger {
  return pino(
    {
      level,
      base: { service: 'atproto-relay' },
      redact: {
        paths: ['adminPasswords', '*.adminPasswords', 'authorization', '*.authorization'],
        censor: '***',
      },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: 2, sync: false }),
  )
}

/** A logger that drops everything (tests). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
