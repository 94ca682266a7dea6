// How ingest writes accounts and the relay's own events, shared by the event handlers
// (handlers.ts) and the operations that run in order with an account's events (ingest.ts,
// resynchronize.ts): append an event to the log, store a new account state while keeping the
// hosts' account counts in step, apply an account event with the one state rule, change an
// account's local status and announce it, and decide who takes one of a host's slots: a new
// account, a throttled one released, one back from deleted upstream.
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
  /**
   * Accounts made here (`fresh`, `admit`) that no store has taken yet: the sure sign of a new
   * account. The cache cannot tell: it may evict a known account between its read and its store,
   * and a known account counted as new would take a second slot.
   */
  readonly #unstored = new WeakSet<AccountState>()

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
    this.save(next, seq, before)
    return next
  }

  /** Whether this account was made here and not stored yet (see `#unstored`). */
  isNew(account: AccountState): boolean {
    return this.#unstored.has(account)
  }

  /**
   * Stores a new state and keeps the hosts' account counts (slots) in step. `before`: the state
   * it replaces, as the caller read it in the account's turn (a new account's own object, or
   * `next` itself when that is new).
   */
  save(next: AccountState, seq: number, before: AccountState): void {
    const prev = this.#unstored.has(before) ? undefined : before
    this.#unstored.delete(before)
    this.#unstored.delete(next)
    this.#d.accounts.set(next, seq)
    if (prev && prev.hostId !== next.hostId) {
      if (takesSlot(prev)) this.#d.hosts.adjustAccountCount(prev.hostId, -1)
      if (takesSlot(next)) this.#d.hosts.adjustAccountCount(next.hostId, 1)
      return
    }
    const delta = Number(takesSlot(next)) - Number(takesSlot(prev))
    // A new account is told of with its DID, even when it takes no slot: one granted to it
    // (askSlot) and counted already goes back then. So is an account taking a slot (a released
    // one was granted it).
    if (prev === undefined || delta > 0)
      this.#d.hosts.adjustAccountCount(next.hostId, delta, next.did)
    else if (delta !== 0) this.#d.hosts.adjustAccountCount(next.hostId, delta)
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
    return this.#changeStatus(account, localStatus)
  }

  /**
   * A throttled account released after its host's account limit was raised: back as
   * desynchronized (a repair announces its head), taking one of the host's slots as a new account
   * does: checked with no await before the store where this thread counts the slots, asked for
   * where another thread does. So the released accounts and new ones admitted meanwhile stay
   * within the limit together. Undefined when it was not released: unknown, not throttled, or
   * the host has no slot left.
   */
  async release(did: string): Promise<AccountState | undefined> {
    const account = await this.#d.accounts.get(did)
    if (account?.localStatus !== 'throttled') return undefined
    // An account deleted upstream takes no slot whatever its local status.
    if (takesSlot({ ...account, localStatus: 'desynchronized' })) {
      const { hosts } = this.#d
      const granted = hosts.askSlot
        ? await hosts.askSlot(account.hostId, did)
        : this.#slotFree(account.hostId)
      if (!granted) return undefined
    }
    try {
      return this.#changeStatus(account, 'desynchronized')
    } catch (err) {
      this.unadmit(did, account.hostId) // not stored: a slot granted to it goes back
      throw err
    }
  }

  /**
   * Whether `next` may be stored as it is, for an event from host `from`. A change that makes a
   * stored account take a slot it did not, from its own host (back from deleted upstream), takes
   * one as a new account does: checked with no await before the store where this thread counts
   * the slots, asked for where another does; false when the host has none left (the caller
   * throttles the account). Any other change needs none. A move to another host carries its
   * slot there unchecked (the account is not new to the network), and a taken-down account stays
   * taken down (it counts, as §4.14 says, whatever the limit).
   */
  claim(before: AccountState, next: AccountState, from: number): boolean | Promise<boolean> {
    if (this.#unstored.has(before) || from !== before.hostId || next.hostId !== before.hostId) {
      return true
    }
    if (next.localStatus === 'takendown') return true
    if (takesSlot(before) || !takesSlot(next)) return true
    const { hosts } = this.#d
    return hosts.askSlot ? hosts.askSlot(next.hostId, next.did) : this.#slotFree(next.hostId)
  }

  /** Changes a stored account's local status, announcing what consumers see change. */
  #changeStatus(account: AccountState, localStatus: AccountState['localStatus']): AccountState {
    const { did } = account
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
    this.save(next, seq, account)
    return next
  }

  /**
   * For an account not stored yet: throttled when its host has used its account slots (§4 item
   * 14), checked again right before it is stored. Stored accounts are returned as they are.
   * Where the count belongs to another thread the slot is asked for (`askSlot`): a granted one
   * is the account's, whoever else asks meanwhile, so the limit holds across threads.
   */
  /**
   * The answer is there at once where this thread counts the slots, so that nothing runs
   * between the check and the store (concurrent first events of one host's new accounts cannot
   * all take its last slot); a promise where the slot is asked for.
   */
  admit(account: AccountState): AccountState | Promise<AccountState> {
    if (!this.#unstored.has(account) || account.localStatus !== 'active') return account
    const { hosts } = this.#d
    if (!hosts.askSlot) return this.#admitHere(account)
    return hosts
      .askSlot(account.hostId, account.did)
      .then((granted): AccountState => (granted ? account : this.#throttled(account)))
  }

  /**
   * A new account admitted before an await, right before its store: where this thread counts
   * the slots, its throttled copy when the host has used them all meanwhile. Where a slot was
   * asked for, the grant holds (it is the account's, whoever asked since).
   */
  confirm(account: AccountState): AccountState {
    if (this.#d.hosts.askSlot || !this.#unstored.has(account)) return account
    if (account.localStatus !== 'active') return account
    return this.#admitHere(account)
  }

  /** Where this thread counts the slots: throttled when the host has used them all. */
  #admitHere(account: AccountState): AccountState {
    return this.#slotFree(account.hostId) ? account : this.#throttled(account)
  }

  /** Where this thread counts the slots: whether the host has one left. */
  #slotFree(hostId: number): boolean {
    const slots = this.#d.hosts.accountSlots(hostId)
    return slots === undefined || slots.count < slots.limit
  }

  /** A new account's throttled copy, still new. */
  #throttled(account: AccountState): AccountState {
    const throttled: AccountState = { ...account, localStatus: 'throttled' }
    this.#unstored.add(throttled)
    return throttled
  }

  /**
   * An account of the host's whose event or resync failed before its store: a slot granted to
   * it (askSlot) goes back. A grant lives only from the ask to the account's store, which
   * takes it, so this is a no-op for an account that holds none (or was stored). Nothing to do
   * where this thread counts the slots.
   */
  unadmit(did: string, hostId: number): void {
    if (this.#d.hosts.askSlot) this.#d.hosts.adjustAccountCount(hostId, 0, did)
  }

  /**
   * A new account as far as can be told now: throttled when its host has used its account
   * slots (§4 item 14); where a slot must be asked for, not asked yet (`admit` asks right before
   * the account is stored: a slot is not given to an event that is then dropped).
   */
  fresh(did: string, hostId: number, now: number): AccountState {
    const account = newAccount(did, hostId, now)
    this.#unstored.add(account)
    return this.#d.hosts.askSlot ? account : this.#admitHere(account)
  }
}
