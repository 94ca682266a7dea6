// The failures the state database reports, one class per outcome a caller branches on:
// - DuplicateHostError: a host with that hostname already exists (requestCrawl races, admin add).
// - HostNotFoundError: an update named a host id that does not exist.
// - DatabaseError: anything else the database or its driver did wrong, with a coarse `reason`
//   (unavailable → /xrpc/_health answers 503; busy → retry later; closed → shutting down).
// Driver errors are always wrapped: the message names the store operation and the reason only;
// the driver's own error (which may quote SQL, values or connection details) is kept in `cause`
// for logs, never in `message`.
// Deliberately not here: mapping these to XRPC error bodies (api/ does that).

export type DatabaseErrorReason =
  | 'unavailable' // cannot open or reach the database (file, permissions, network, pool)
  | 'busy' // locked by another writer past the busy timeout, or a serialization conflict
  | 'constraint' // a constraint other than the ones with their own error class was violated
  | 'full' // disk or quota full
  | 'closed' // the RelayDatabase was closed
  | 'migration' // a schema migration failed; the database is left at the last good migration
  | 'query' // any other driver failure

export class DatabaseError extends Error {
  override readonly name = 'DatabaseError'
  readonly reason: DatabaseErrorReason
  /** The store operation that failed, e.g. `hosts.create`. */
  readonly operation: string

  constructor(
    operation: string,
    reason: DatabaseErrorReason,
    options?: { cause?: unknown; detail?: string },
  ) {
    const detail = options?.detail === undefined ? '' : `: ${options.detail}`
    super(`database ${operation} failed (${reason})${detail}`, { cause: options?.cause })
    this.operation = operation
    this.reason = reason
  }
}

export class DuplicateHostError extends Error {
  override readonly name = 'DuplicateHostError'
  readonly reason = 'duplicate-host'
  readonly hostname: string

  constructor(hostname: string, options?: { cause?: unknown }) {
    super(`host already exists: ${hostname}`, { cause: options?.cause })
    this.hostname = hostname
  }
}

export class HostNotFoundError extends Error {
  override readonly name = 'HostNotFoundError'
  readonly reason = 'host-not-found'
  readonly hostId: number

  constructor(hostId: number) {
    super(`no host with id ${hostId}`)
    this.hostId = hostId
  }
}

/** True for the errors this module throws on purpose (they pass through wrapping unchanged). */
export function isDbDomainError(err: unknown): boolean {
  return (
    err instanceof DatabaseError ||
    err instanceof DuplicateHostError ||
    err instanceof HostNotFoundError
  )
}

/** Wraps any other error from the driver or Kysely into a DatabaseError for `operation`. */
export function wrapDriverError(operation: string, err: unknown): Error {
  if (isDbDomainError(err)) return err as Error
  return new DatabaseError(operation, classifyDriverError(err), { cause: err })
}

/**
 * Maps node:sqlite (`errcode`), better-sqlite3 (`SQLITE_*`) and pg (SQLSTATE, socket errno) codes
 * to a reason.
 */
export function classifyDriverError(err: unknown): DatabaseErrorReason {
  const sqliteCode = sqliteResultCode(err)
  if (sqliteCode !== undefined) return classifySqliteCode(sqliteCode)
  const code = errorCode(err)
  if (code === undefined) {
    const message = err instanceof Error ? err.message : ''
    if (/database (connection )?is not open|driver has already been destroyed/i.test(message))
      return 'closed'
    if (/pool.*(ended|after calling end)|Connection terminated/i.test(message)) return 'unavailable'
    return 'query'
  }
  if (code.startsWith('SQLITE_')) {
    const primary = SQLITE_NAMES[code.replace(/^SQLITE_([A-Z]+).*$/, '$1')]
    return primary === undefined ? 'query' : classifySqliteCode(primary)
  }
  // PostgreSQL SQLSTATE classes.
  if (code.startsWith('23')) return 'constraint'
  if (code === '40001' || code === '40P01' || code === '55P03') return 'busy'
  if (code === '53100' || code === '53200') return 'full'
  if (code.startsWith('08') || code.startsWith('57P') || code === '53300') return 'unavailable'
  if (/^E[A-Z]+$/.test(code)) return 'unavailable' // ECONNREFUSED, ETIMEDOUT, ENOTFOUND, ...
  return 'query'
}

function errorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null || !('code' in err)) return undefined
  const code = (err as { code: unknown }).code
  return typeof code === 'string' ? code : undefined
}

// SQLite primary result codes (https://sqlite.org/rescode.html); extended codes carry the
// primary one in their low byte.
const SQLITE_PERM = 3
const SQLITE_BUSY = 5
const SQLITE_LOCKED = 6
const SQLITE_READONLY = 8
const SQLITE_IOERR = 10
const SQLITE_CORRUPT = 11
const SQLITE_FULL = 13
const SQLITE_CANTOPEN = 14
const SQLITE_CONSTRAINT = 19
const SQLITE_NOTADB = 26

const SQLITE_NAMES: Record<string, number> = {
  PERM: SQLITE_PERM,
  BUSY: SQLITE_BUSY,
  LOCKED: SQLITE_LOCKED,
  READONLY: SQLITE_READONLY,
  IOERR: SQLITE_IOERR,
  CORRUPT: SQLITE_CORRUPT,
  FULL: SQLITE_FULL,
  CANTOPEN: SQLITE_CANTOPEN,
  CONSTRAINT: SQLITE_CONSTRAINT,
  NOTADB: SQLITE_NOTADB,
}

function classifySqliteCode(code: number): DatabaseErrorReason {
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return 'busy'
    case SQLITE_CONSTRAINT:
      return 'constraint'
    case SQLITE_FULL:
      return 'full'
    case SQLITE_PERM:
    case SQLITE_READONLY:
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
      return 'unavailable'
    default:
      return 'query'
  }
}

/** node:sqlite errors carry SQLite's (extended) result code as a number in `errcode`. */
function sqliteResultCode(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('errcode' in err)) return undefined
  const code = (err as { errcode: unknown }).errcode
  return typeof code === 'number' ? code : undefined
}
