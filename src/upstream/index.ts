// Public surface of upstream/: one subscription per PDS host, reported through callbacks.
export { Backoff, type BackoffOptions } from './backoff.ts'
export { type FrameOutcome, readFrame } from './frame-outcome.ts'
export { HostConnection } from './host-connection.ts'
export { RecoveredSeqs } from './recovered-seqs.ts'
export { SeqWindow } from './seq-window.ts'
export { subscribeReposUrl } from './subscribe-url.ts'
export type {
  ConnectionState,
  HostConnectionOptions,
  HostConnectionStats,
  HostTarget,
  UpstreamHandlers,
} from './types.ts'
