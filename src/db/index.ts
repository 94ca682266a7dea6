// Public surface of the state database (the only place with SQL): openDatabase and the stores'
// row types, the schema vocabularies, and the errors callers branch on. Test support
// (tempDatabase) is imported from ./testing.ts directly, never from here.

export type { AccountRow, ListPageOptions } from './accounts.ts'
export { AccountStore, DEFAULT_UPSERT_CHUNK_ROWS } from './accounts.ts'
export type { DbOptions, RelayDatabase, Stores } from './database.ts'
export { openDatabase } from './database.ts'
export type { DbConfig, SqliteDriver } from './dialect.ts'
export { dbConfigFromUrl, SQLITE_BUSY_TIMEOUT_MS } from './dialect.ts'
export type { DatabaseErrorReason } from './errors.ts'
export { DatabaseError, DuplicateHostError, HostNotFoundError } from './errors.ts'
export type { HostPatch, HostRow, NewHost } from './hosts.ts'
export { HostStore } from './hosts.ts'
export { MetaStore } from './meta.ts'
export { MIGRATION_NAMES } from './migrations/index.ts'
export type {
  AccountUpstreamStatus,
  HostStatus,
  LocalStatus,
  Schema,
  SyncMode,
  ValidationMode,
} from './schema.ts'
export { HOST_STATUSES, LOCAL_STATUSES } from './schema.ts'
