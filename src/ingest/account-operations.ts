// What the rest of the relay asks of whoever owns the accounts: ingest on the main thread
// (ingest.ts), or the account shards (shards/account-shards.ts). Types only.
import type { AccountState } from '../accounts/account-state.ts'
import type { Identity } from '../identity/did-document.ts'
import type { UpstreamEvent } from '../protocol/envelope.ts'
import type { ReverseTakedownResult } from './ingest.ts'
import type { ResyncInput, ResyncResult } from './resynchronize.ts'
import type { IngestStats } from './types.ts'

export interface AccountOperations {
  readonly stats: IngestStats
  /** Takes an upstream event; the caller no longer reads `raw` (it may be transferred). */
  handle(hostId: number, msg: UpstreamEvent, raw: Uint8Array): void
  takeDown(did: string): Promise<boolean>
  reverseTakedown(did: string): Promise<ReverseTakedownResult>
  releaseThrottled(hostId: number, slots: number): Promise<number>
  resynchronize(
    did: string,
    input: ResyncInput,
  ): Promise<{ result: ResyncResult; state: AccountState | undefined }>
  /** Events waiting for the database stop waiting (they end unsettled; a graceful stop). */
  stop(): void | Promise<void>
  /** Resolves when every event handed in so far is settled (or after `timeoutMs`). */
  idle(timeoutMs?: number): Promise<void>
}

/** Account states as routes read them: the owner's current ones, not only the stored rows. */
export interface AccountReader {
  get(did: string): Promise<AccountState | undefined>
  /**
   * Each stored state, or the newer one its owner holds in memory (the database lags it by up
   * to a checkpoint interval); in the same order.
   */
  newest(stored: readonly AccountState[]): Promise<AccountState[]>
}

/** The identity cache as admin operations and repairs use it. */
export interface IdentityOperations {
  peek(did: string): Identity | undefined | Promise<Identity | undefined>
  purge(did: string): void | Promise<void>
  resolve(did: string): Promise<{ identity: Identity; stale: boolean }>
}
