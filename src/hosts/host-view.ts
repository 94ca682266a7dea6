// What the rest of the relay sees of a host: `HostView` (the API, the admin routes, metrics and
// tests read this, never the database row) and `HostDetail`, what an operator's host list
// shows (limits in force, observed rates, the connection, the status machine's view). Also the
// limits in force for a host: its own where an operator set them, else the defaults for its
// account limit and trust.
// Deliberately not here: field names of any wire format (admin/ and api/ choose those).
import type { HostRow } from '../db/hosts.ts'
import type { BanReason } from './ban.ts'
import type { HostStatus, HostStatusInfo } from './host-status.ts'
import { defaultLimits, type HostLimits, type HostRates } from './rate-limit.ts'
import type { SyncMode } from './sync-ratchet.ts'

export interface HostView {
  readonly id: number
  readonly hostname: string
  readonly ssl: boolean
  readonly status: HostStatus
  /** Why the status is what it is, for operators (prose). */
  readonly statusReason: string | null
  /** Why the host is banned, as data (null when it is not). */
  readonly ban: BanReason | null
  /** The last upstream seq up to which every event is complete (null: none yet). */
  readonly cursor: number | null
  readonly accountCount: number
  readonly accountLimit: number
  readonly trusted: boolean
  readonly createdAt: string
}

export interface HostDetail extends HostView {
  readonly limits: HostLimits
  readonly rates: HostRates
  /** Repo fetches per second: resyncs and repairs wait for it (resync/pacer.ts). */
  readonly crawlRate: number
  readonly sync: {
    /** The host's pin, or the relay default. */
    readonly mode: SyncMode
    /** Where the host stands now. */
    readonly effective: 'strict' | 'lenient'
    readonly pinned: boolean
  }
  readonly connection: { readonly connected: boolean; readonly framesReceived: number } | null
  /** The status machine's view: retries, the last connection error. */
  readonly statusInfo: HostStatusInfo | undefined
}

/** Repo fetches per second a host gets unless an operator sets another (`crawl_rate`). */
export const DEFAULT_CRAWL_RATE = 5

/** The limits in force for a host: its own where set, else the defaults for its account limit. */
export function limitsOf(row: HostRow): HostLimits {
  const d = defaultLimits(row.accountLimit, row.trusted)
  return {
    perSecond: row.perSecond ?? d.perSecond,
    perHour: row.perHour ?? d.perHour,
    perDay: row.perDay ?? d.perDay,
  }
}

export function viewOf(row: HostRow, cursor: number | null, ban: BanReason | null): HostView {
  return {
    id: row.id,
    hostname: row.hostname,
    ssl: row.ssl,
    status: row.status,
    statusReason: row.statusReason,
    ban,
    cursor,
    accountCount: row.accountCount,
    accountLimit: row.accountLimit,
    trusted: row.trusted,
    createdAt: row.createdAt,
  }
}

/** An operator's view of a host, from its row and view and what runs for it now. */
export function detailOf(
  row: HostRow,
  view: HostView,
  now: {
    readonly rates: HostRates
    readonly syncDefault: SyncMode
    readonly connection: HostDetail['connection']
    readonly statusInfo: HostStatusInfo | undefined
  },
): HostDetail {
  const mode = row.syncMode ?? now.syncDefault
  return {
    ...view,
    limits: limitsOf(row),
    rates: now.rates,
    crawlRate: row.crawlRate ?? DEFAULT_CRAWL_RATE,
    sync: {
      mode,
      effective: mode === 'auto' ? row.syncEffective : mode,
      pinned: row.syncMode !== null,
    },
    connection: now.connection,
    statusInfo: now.statusInfo,
  }
}
