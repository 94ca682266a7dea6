// What ingest is given and what it reports: the one-method-per-need interfaces to the parts
// below it (identity, account state, hosts, the log, verification) and its running counts.
// Types only, in a file of their own so the pipeline (ingest.ts) and its event rules
// (handlers.ts) share them without importing each other.
import type { Tracer } from '@opentelemetry/api'
import type { AccountCache } from '../accounts/account-cache.ts'
import type { Takedowns } from '../accounts/takedowns.ts'
import type { RepoHead } from '../archive/repo-change.ts'
import type { AppendInput, LogRecord } from '../eventlog/types.ts'
import type { HostIngestView } from '../hosts/host-rows.ts'
import type { SyncMode } from '../hosts/sync-ratchet.ts'
import type { Identity } from '../identity/did-document.ts'
import type { TreeChange } from '../verify/tree-change.ts'
import type { Drop } from './drop-counter.ts'
import type { VerifyOutcome, VerifyTask } from './verify-task.ts'

/** What ingest asks of the hosts part (hosts/hosts.ts implements it). */
export interface IngestHosts {
  ingestView(hostId: number): HostIngestView | undefined
  /** A commit of the host was accepted; `proven`: its ops inverted to prevData (sync ratchet). */
  commitAccepted(hostId: number, proven: boolean): void
  /** Account slots of a host (new accounts beyond the limit are throttled). */
  accountSlots(hostId: number): { count: number; limit: number } | undefined
  /**
   * Where the count belongs to another thread (account shards): asks it for one of the host's
   * slots for a new account, true when granted. A granted slot is counted already: the new
   * account's own count change (`adjustAccountCount` with its DID) is not sent again.
   */
  askSlot?(hostId: number, did: string): Promise<boolean>
  /**
   * An account took (1) or gave back (-1) a slot. `did` is given for a new account's first store
   * (with 0 too when it takes none), for a stored account taking a slot on the same host (a
   * release, a return from deleted), and with 0 for a failure before a store: a slot granted to
   * it by `askSlot` and counted already is then not counted again, or goes back. A move's
   * counts name no account, so they cannot use a grant up.
   */
  adjustAccountCount(hostId: number, delta: number, did?: string): void
  /** An event is settled: accepted into the log's buffer, or dropped (then complete at once). */
  settled(hostId: number, seq: number, dropped: boolean): void
}

/** What ingest asks of the mirror of every repo (archival mode; archive/mirror.ts). */
export interface IngestMirror {
  applyCommit(
    did: string,
    head: RepoHead,
    blocks: ReadonlyMap<string, Uint8Array>,
    change?: TreeChange,
  ): Promise<{ ok: true; applied: boolean } | { ok: false; missing: string }>
  importRepo(
    did: string,
    head: RepoHead,
    tree: ReadonlyMap<string, Uint8Array>,
  ): Promise<{ changed: boolean }>
  delete(did: string): Promise<boolean>
}

export interface IngestDeps {
  readonly identity: {
    resolve(did: string): Promise<{ identity: Identity; stale: boolean }>
    peek(did: string): Identity | undefined
    purge(did: string): void
  }
  readonly accounts: AccountCache
  /**
   * What fan-out hides, changed around a takedown or its reversal. Absent in an account shard:
   * the main thread's set is the one consumers see, and it changes it around its call to the
   * shard.
   */
  readonly takedowns?: Takedowns
  readonly hosts: IngestHosts
  readonly log: { append(input: AppendInput): LogRecord }
  /** Verifies an event; never detaches `task.frame` (a retry reads it again). */
  readonly verify: (task: VerifyTask) => Promise<VerifyOutcome>
  readonly drops: { record(drop: Drop): void }
  readonly now: () => number
  readonly syncDefault: SyncMode
  /** Asks an account's PDS for its status (docs/design.md §4 item 11b); null when it cannot tell. */
  readonly checkRepoStatus?: (
    pds: string,
    did: string,
  ) => Promise<{ active: boolean; status?: string } | null>
  /** The oldest throttled accounts of a host, as stored (after `flushAccounts`). */
  readonly oldestThrottled: (hostId: number, limit: number) => Promise<readonly string[]>
  /** Writes every account state to the database now (a checkpoint). */
  readonly flushAccounts: () => Promise<void>
  readonly onError?: (
    err: unknown,
    context: {
      hostId: number
      seq: number
      did: string
      /** Set while the event waits for the database: how many attempts failed so far. */
      attempt?: number
      waiting?: boolean
    },
  ) => void
  /** Tracing: one span per upstream event (a no-op tracer when tracing is off). */
  readonly tracer?: Tracer
  readonly identityRetry?: { attempts: number; delayMs: number }
  readonly logger?: {
    info(obj: object, msg: string): void
    warn(obj: object, msg: string): void
  }
  /** Archival mode: the mirror every accepted commit is applied to. */
  readonly mirror?: IngestMirror
  /**
   * An account became desynchronized (its chain broke, or the mirror could not follow it): its
   * repair is due. Called once per change to `desynchronized`.
   */
  readonly onDesynchronized?: (did: string, hostId: number) => void
}

export interface IngestStats {
  received: number
  accepted: number
  dropped: number
  errors: number
  /** Attempts made again because the database was away (the event waited, nothing lost). */
  retries: number
  inFlight: number
}
