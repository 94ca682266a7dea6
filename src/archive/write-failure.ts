// An archive write's failure as it crosses threads (writer-messages.ts `WriteFailure`): a
// DatabaseError's fields, with the driver's own error as text; anything else is a `query`
// failure. Taken apart where the write ran, rebuilt where it was asked for, so callers on
// either side branch on the same DatabaseError.
import { DatabaseError } from '../db/errors.ts'
import type { WriteFailure } from './writer-messages.ts'

/** The error's message, with the driver's code when it has one. */
const describe = (err: unknown): string => {
  if (!(err instanceof Error)) return String(err)
  const code =
    (err as { code?: unknown; errcode?: unknown }).errcode ?? (err as { code?: unknown }).code
  return code === undefined ? err.message : `${err.message} (${String(code)})`
}

export function toWriteFailure(operation: string, err: unknown): WriteFailure {
  if (err instanceof DatabaseError)
    return { operation: err.operation, reason: err.reason, cause: describe(err.cause ?? err) }
  return { operation, reason: 'query', cause: describe(err) }
}

export const fromWriteFailure = (f: WriteFailure): DatabaseError =>
  new DatabaseError(f.operation, f.reason, { cause: new Error(f.cause) })
