// The relay's state tables as Kysely sees them (snake_case columns, database value types), and
// the small closed vocabularies stored in them. Stores convert these rows to camelCase domain
// rows at their boundary; nothing outside src/db/ should need the *Table types.
//
// Value conventions, the same in SQLite and PostgreSQL:
// - booleans are integers 0/1 (a column type both dialects store and return alike);
// - timestamps are ISO 8601 UTC strings from Date#toISOString (fixed width, so text order is time
//   order);
// - cursors and counts fit below 2^53 and are read back as JS numbers (bigint columns in
//   PostgreSQL whose int8 values are parsed to numbers, see dialect.ts).
// Vocabularies are checked by TypeScript on write, not by CHECK constraints, so adding a value
// later needs no table rebuild in SQLite. The closed vocabularies stored here are defined here,
// once, as data with derived types, and every layer above names them from here (hosts/ re-exports
// the host statuses, accounts/ the local statuses); the sync modes come from verify/.
// Deliberately not here: what the statuses mean and when they change (hosts/ and accounts/).

import type { ColumnType, Generated } from 'kysely'
import type { SyncMode, ValidationMode } from '../verify/validation-mode.ts'

export type { SyncMode, ValidationMode }

/** A host's status (docs/design.md §4 item 13). */
export const HOST_STATUSES = ['active', 'idle', 'offline', 'throttled', 'banned'] as const
export type HostStatus = (typeof HOST_STATUSES)[number]

/**
 * The relay's own decision about an account (its operators', its limits', or its sync state:
 * `desynchronized` while the relay's copy of the repo is known to be broken and a repair is due).
 */
export const LOCAL_STATUSES = ['active', 'takendown', 'throttled', 'desynchronized'] as const
export type LocalStatus = (typeof LOCAL_STATUSES)[number]

/** What the account's PDS says (`#account` status); unknown future values are kept as text. */
export type AccountUpstreamStatus =
  | 'active'
  | 'deactivated'
  | 'deleted'
  | 'suspended'
  | 'takendown'
  | 'desynchronized'
  | 'throttled'
  | (string & {})

/** 0 or 1. */
export type IntBool = number

export interface HostTable {
  id: Generated<number>
  hostname: ColumnType<string, string, never>
  ssl: IntBool
  status: HostStatus
  status_reason: string | null
  cursor: number | null
  account_limit: number
  account_count: number
  trusted: IntBool
  sync_mode: SyncMode | null
  sync_effective: ValidationMode
  sync_good_run: number
  per_second: number | null
  per_hour: number | null
  per_day: number | null
  crawl_rate: number | null
  last_error: string | null
  last_error_at: string | null
  created_at: ColumnType<string, string, never>
  updated_at: string
}

export interface AccountTable {
  did: string
  host_id: number
  local_status: LocalStatus
  upstream_status: AccountUpstreamStatus
  rev: string | null
  commit_cid: string | null
  data_cid: string | null
  handle: string | null
  created_at: string
  updated_at: string
}

export interface MetaTable {
  key: string
  value: string
}

/** A DID's identity as last resolved (migration 0002_identity). */
export interface IdentityTable {
  did: string
  pds: string | null
  handle: string | null
  /** The signing key's verification method type and key (both null when it has none). */
  key_type: string | null
  key: string | null
  /** Milliseconds since the epoch. */
  resolved_at: number
}

export interface Schema {
  host: HostTable
  account: AccountTable
  meta: MetaTable
  identity: IdentityTable
}
