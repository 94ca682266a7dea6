// How ingest writes accounts and the relay's own events, shared by the event handlers
// (handlers.ts) and the operations that run in order with an account's events (ingest.ts,
// resynchronize.ts): append an event to the log, store a new account state while keeping the
// hosts' account counts in step, apply an account event with the one state rule, change an
// account's local status and announce it, and decide whether a new account gets a slot.
// Deliberately not here: which events are accepted (handlers.ts), ordering (callers run inside
// the account serializer).
import { type AccountEvent, applyAccountEvent, statusNote } from '../accounts/account-events.ts'
import { type AccountState, effectiveStatus, newAccount } from '../accounts/account-state.ts'
import type { AppendInput, LogRecord } from '../eventlog/types.ts'
import { RELAY_HOST_ID } from '../hosts/host-id.ts'
import { accountBody, prepareFrame } from '../protocol/output.ts'
import type { IngestDeps } from './types.ts'

export interface AccountWriterDeps extends IngestDeps {
  readonly accept: (input: AppendInput) => LogRecord
}

/** Whether an account uses one of its host's account slots. */
export const takesSlot = (s: AccountState | undefined): boolean =>
  s !== undefined && s.localStatus !== 'throttled' && s.upstreamStatus !== 'deleted'

export class AccountWriter {
  readonly #d: AccountWriterDeps

  constructor(deps: AccountWriterDeps) {
    this.#d = deps
  }

  append(
    type: string,
    body: Record<string, unknown>,
    hostId: number,
    seq: number,
    did: string,
    note?: string,
  ): LogRecord {
    const frame = prepareFrame(type, body)
    return this.#d.accept({ frame, hostId, upstreamSeq: seq, did, ...(note ? { note } : {}) })
  }

  /** Applies an accepted event to the account's state (the one rule) and stores it. */
  apply(before: AccountState, event: AccountEvent, seq: number): AccountState {
    const next = applyAccountEvent(before, before.did, event, this.#d.now())
    this.save(next, seq)
    return next
  }

  /** Stores a new state and keeps the hosts' account counts (slots) in step. */
  save(next: AccountState, seq: number): void {
    const prev = this.#d.accounts.peek(next.did)
    this.#d.accounts.set(next, seq)
    if (prev && prev.hostId !== next.hostId) {
      if (takesSlot(prev)) this.#d.hosts.adjustAccountCount(prev.hostId, -1)
      if (takesSlot(next)) this.#d.hosts.adjustAccountCount(next.hostId, 1)
      return
    }
    const delta = Number(takesSlot(next)) - Number(takesSlot(prev))
    if (delta !== 0) this.#d.hosts.adjustAccountCount(next.hostId, delta)
  }

  /**
   * An operator's (a limit's, a repair's) change of an account's local status: stored, and
   * announced with an `#account` event of the relay's own when the status consumers see changes.
   * Returns the new state, or undefined for an account the relay does not know.
   */
  async setLocalStatus(
    did: string,
    localStatus: AccountState['localStatus'],
  ): Promise<AccountState | undefined> {
    const account = await this.#d.accounts.get(did)
    if (!account) return undefined
    if (account.localStatus === localStatus) return account
    const now = this.#d.now()
    const event: AccountEvent = { kind: 'relay-status', localStatus, upstreamActive: false }
    const next = applyAccountEvent(account, did, event, now)
    const before = effectiveStatus(account)
    const after = effectiveStatus(next)
    let seq = 0
    if (before.active !== after.active || before.status !== after.status) {
      const time = new Date(now).toISOString()
      const body = accountBody({ did, time, ...after })
      seq = this.append('#account', body, RELAY_HOST_ID, 0, did, statusNote(event)).seq
    }
    this.save(next, seq)
    return next
  }

  /**
   * For an account not stored yet: throttled when its host has used its account slots (§4 item
   * 14), checked again right before it is stored. Stored accounts are returned as they are.
   */
  admit(account: AccountState): AccountState {
    if (this.#d.accounts.peek(account.did) !== undefined || account.localStatus !== 'active')
      return account
    const slots = this.#d.hosts.accountSlots(account.hostId)
    return slots && slots.count >= slots.limit ? { ...account, localStatus: 'throttled' } : account
  }

  /** A new account; throttled when its host has used its account slots (§4 item 14). */
  newAccount(did: string, hostId: number, now: number): AccountState {
    return this.admit(newAccount(did, hostId, now))
  }
}
