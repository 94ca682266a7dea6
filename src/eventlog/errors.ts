// The failures the event log reports, one class per outcome a caller branches on:
// - EventLogClosedError: the log was closed; nothing more can be appended or read.
// - EventLogInputError: an append argument the log cannot store (a programming error upstream:
//   a valid input never fails), or the seq space below 2^53 is used up.
// - EventLogIoError: the disk refused an operation (write, sync, roll, open, read, prune). A
//   failed write keeps its records buffered and is retried; `pendingBytes` grows meanwhile, which
//   is the caller's cue to apply backpressure.
// - EventLogCorruptError: bytes no longer pass their checksum when read (in the active segment or
//   one checked at open; a sealed segment open took from its index is checked on the spot).
// - EventLogLockedError: another live process (or another EventLog in this one) owns the dir.
// Deliberately not here: corruption found while opening. That is repaired or reported through
// `EventLog.recovery`, never thrown, so a damaged tail cannot keep the relay from starting.

export type EventLogInputReason =
  | 'bad-host-id' // not an integer in [0, 2^32)
  | 'bad-upstream-seq' // not a safe non-negative integer
  | 'bad-did' // empty, or longer than the record format allows
  | 'bad-type' // empty, or longer than the record format allows
  | 'bad-note' // holds a NUL, or does not fit beside the type
  | 'too-large' // the frame is larger than any record the log stores
  | 'seq-exhausted' // the next seq would not stay below 2^53

export class EventLogInputError extends Error {
  override readonly name = 'EventLogInputError'
  readonly reason: EventLogInputReason

  constructor(reason: EventLogInputReason, message: string) {
    super(`event log: ${message}`)
    this.reason = reason
  }
}

export class EventLogClosedError extends Error {
  override readonly name = 'EventLogClosedError'
  readonly reason = 'closed' as const

  constructor(operation: string) {
    super(`event log: ${operation} after close`)
  }
}

export type EventLogIoOperation = 'open' | 'write' | 'sync' | 'roll' | 'read' | 'prune' | 'close'

export class EventLogIoError extends Error {
  override readonly name = 'EventLogIoError'
  readonly operation: EventLogIoOperation
  /** The errno code of the underlying failure when there is one (ENOSPC, EIO, ...). */
  readonly code: string | undefined

  constructor(operation: EventLogIoOperation, message: string, cause: unknown) {
    super(`event log ${operation}: ${message}`, { cause })
    this.operation = operation
    this.code = errnoCode(cause)
  }
}

export class EventLogCorruptError extends Error {
  override readonly name = 'EventLogCorruptError'
  readonly reason = 'corrupt' as const
  readonly file: string
  readonly offset: number

  constructor(file: string, offset: number, detail: string) {
    super(`event log: corrupt record in ${file} at byte ${offset}: ${detail}`)
    this.file = file
    this.offset = offset
  }
}

export class EventLogLockedError extends Error {
  override readonly name = 'EventLogLockedError'
  readonly reason = 'locked' as const
  readonly dir: string
  /** The holder's pid as it recorded it (0: unknown). */
  readonly pid: number

  constructor(dir: string, pid: number) {
    const who = pid > 0 ? `process ${pid}` : 'another process'
    super(
      `event log: ${dir} is in use by ${who} (another relay on the same data directory?); stop it first`,
    )
    this.dir = dir
    this.pid = pid
  }
}

/** The errno code (`ENOENT`, `ENOSPC`, ...) of a Node system error, if `e` is one. */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'string')
    return e.code
  return undefined
}
