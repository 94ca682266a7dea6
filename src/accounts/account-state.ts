// What the relay knows about one account (docs/design.md §2 "accounts/"): which host it lives on, its
// local status (set by this relay's operators or limits) and upstream status (announced by its
// PDS), and its repo head (rev, commit CID, MST root CID). States are immutable values: a change
// makes a new object, so a snapshot taken for a batch write never changes under the writer.

import type { LocalStatus } from '../db/schema.ts'

export { LOCAL_STATUSES, type LocalStatus } from '../db/schema.ts'

export interface AccountState {
  readonly did: string
  readonly hostId: number
  readonly localStatus: LocalStatus
  /** 'active', or the status the PDS announced ('deactivated', 'deleted', 'suspended', ...). */
  readonly upstreamStatus: string
  readonly rev: string | null
  readonly commitCid: string | null
  readonly dataCid: string | null
  readonly handle: string | null
  readonly createdAt: number
  readonly updatedAt: number
}

/** Why events of this account are not flowing, as a drop reason; null when it is active. */
export function inactiveReason(
  state: AccountState,
): 'account-takendown' | 'account-throttled' | 'account-inactive' | null {
  if (state.localStatus === 'takendown') return 'account-takendown'
  if (state.localStatus === 'throttled') return 'account-throttled'
  if (state.upstreamStatus !== 'active') return 'account-inactive'
  return null
}

/** The account's status as emitted in `#account` and answered by getRepoStatus. */
export function effectiveStatus(state: AccountState): { active: boolean; status?: string } {
  if (state.localStatus === 'takendown') return { active: false, status: 'takendown' }
  if (state.localStatus === 'throttled') return { active: false, status: 'throttled' }
  if (state.upstreamStatus !== 'active') return { active: false, status: state.upstreamStatus }
  // The account spec: desynchronized accounts may stay active (their content still flows; the
  // relay's copy of their repo is what is behind).
  if (state.localStatus === 'desynchronized') return { active: true, status: 'desynchronized' }
  return { active: true }
}

export function newAccount(did: string, hostId: number, now: number): AccountState {
  return {
    did,
    hostId,
    localStatus: 'active',
    upstreamStatus: 'active',
    rev: null,
    commitCid: null,
    dataCid: null,
    handle: null,
    createdAt: now,
    updatedAt: now,
  }
}
