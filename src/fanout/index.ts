// Public surface of fanout/: what the composition root and the API layer use.
export {
  CONSUMER_TOO_SLOW,
  FanoutError,
  type FanoutErrorCode,
  FUTURE_CURSOR,
  OUTDATED_CURSOR,
  TOO_MANY_CONSUMERS,
} from './errors.ts'
export { type AttachOptions, Fanout, type FanoutOptions, type FanoutStats } from './fanout.ts'
export type { ConsumerInfo, ConsumerState, LogReader, LogRecord } from './types.ts'
