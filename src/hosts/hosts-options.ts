// What the hosts part is given (hosts.ts): its stores, settings and policy, its clock and
// logger, tuning for tests, and the callbacks through which it calls upward. Also the shape of a
// change of limits. Types only.
import type { RelayConfig } from '../config/config.ts'
import type { HostStore } from '../db/hosts.ts'
import type { Logger } from '../observability/logger.ts'
import type { UpstreamTimings } from '../upstream/types.ts'
import type { HostLinksDeps } from './host-links.ts'
import type { BanStore } from './host-rows.ts'
import type { HostStatusOptions } from './host-status.ts'
import type { LinkNotices } from './link-notices.ts'
import type { Probe } from './probe.ts'
import type { RelaySettings } from './settings.ts'
import type { SyncMode } from './sync-ratchet.ts'
import type { UpstreamLinks } from './upstream-links.ts'

export interface HostsOptions extends Pick<HostLinksDeps, 'onEvent' | 'onDrop' | 'eventTypes'> {
  readonly store: HostStore
  readonly meta: BanStore
  readonly settings: RelaySettings
  /** The configuration's hosts slice; `hostConcurrency` bounds a host's events in flight. */
  readonly config: Pick<
    RelayConfig,
    | 'allowInsecureHosts'
    | 'defaultAccountLimit'
    | 'hostConcurrency'
    | 'syncRatchetCommits'
    | 'syncValidation'
    | 'userAgent'
  >
  readonly probe: Probe
  readonly logger: Logger
  readonly now: () => number
  /** Status machine tuning (tests use short times). */
  readonly statusOptions?: Omit<HostStatusOptions, 'onTransition' | 'now'>
  /** Where upstream sockets run, with the address guard; default this thread, plain DNS. */
  readonly sockets?: HostLinksDeps['sockets']
  /**
   * Who runs the hosts' links, given the notices they report to: host threads (host-threads/).
   * Default: HostLinks on this thread, with `sockets`.
   */
  readonly links?: (notices: LinkNotices) => UpstreamLinks
  /** Upstream socket liveness and dial timings (tests of silent hosts shorten them). */
  readonly upstreamTimings?: UpstreamTimings
  /** How often statuses are re-checked and offline retries started (default 5 s). */
  readonly statusTickMs?: number
  /** FutureCursor answers (and minimum time) before a cursor reset (default 3 over 1 h). */
  readonly futureCursorResets?: { readonly count: number; readonly afterMs: number }
  /** A host's cursor was reset: what was kept about its old sequence is void. */
  readonly onCursorReset: (hostId: number) => void
  /** A checkpoint now (the log synced, cursors stored); after changes a crash must not undo. */
  readonly persist: () => Promise<void>
  /** A host's account limit was raised: release up to `slots` throttled accounts, oldest first. */
  readonly onAccountLimitRaised: (hostId: number, slots: number) => Promise<number>
  /**
   * A known host's ingest view changed how its events are judged (banned or not, its sync mode):
   * account shards, which hold a copy, hear of it at once rather than with its next event.
   */
  readonly onIngestViewChange?: (hostId: number) => void
}

/** A change of a host's limits; absent fields stay as they are. */
export interface LimitsChange {
  readonly perSecond?: number
  readonly perHour?: number
  readonly perDay?: number
  readonly crawlRate?: number
  readonly accountLimit?: number
  readonly syncMode?: SyncMode
}
