// Public face of the event log: the EventLog class, its data types and its error classes.
// Deliberately not exported: the record byte layout and segment internals.
export {
  EventLogClosedError,
  EventLogCorruptError,
  EventLogInputError,
  type EventLogInputReason,
  EventLogIoError,
  type EventLogIoOperation,
  EventLogLockedError,
} from './errors.ts'
export { EventLog } from './event-log.ts'
export type {
  AppendInput,
  EventLogOptions,
  EventLogStats,
  LogRecord,
  RecoveryReport,
  ReusedReadBuffer,
  SegmentDamage,
  SegmentProblem,
} from './types.ts'
