// The one rule that changes an account's state: `applyAccountEvent` takes the state before and
// one thing that happened to the account, and returns the state after. Live ingest applies it to
// each accepted event and to each decision of the relay's own; start-up recovery applies it to
// the events it reads back from the log (checkpoint/account-replay.ts decodes them), so a state
// rebuilt after a crash is the state the live relay had.
// What it decides: the head (rev, commit and MST root) an accepted `#commit` or `#sync` sets;
// the handle an `#identity` sets; the upstream status an `#account` from the PDS announces; the
// local status the relay's operators or limits set; and which host the account lives on: a head
// or status event from a host other than the stored one means the account moved there (ingest
// accepts those only after checking the account's DID document names that host). An
// `#identity` never moves a known account: any host may announce an identity change.
// Deliberately not here: whether an event is accepted (verification, host authority, ordering:
// ingest and verify/), account slots per host (hosts/), and any I/O. Pure.
import { RELAY_HOST_ID } from '../hosts/host-id.ts'
import { type AccountState, LOCAL_STATUSES, type LocalStatus, newAccount } from './account-state.ts'

export type AccountEvent =
  /** An accepted `#commit` or `#sync` from the account's host: its new head. */
  | {
      readonly kind: 'head'
      readonly hostId: number
      readonly rev: string
      readonly commitCid: string
      readonly dataCid: string
    }
  /** An accepted `#identity`, with the handle the freshly resolved DID document claims. */
  | { readonly kind: 'identity'; readonly hostId: number; readonly handle: string | null }
  /**
   * An accepted `#account` from the account's host. `upstream` is the status it announced
   * (`active`, `deactivated`, `deleted`, ...), or null when it is not known: an event read back
   * from the log while the account was masked by a local status (the relay emitted its own view
   * then, not the PDS's).
   */
  | { readonly kind: 'upstream-status'; readonly hostId: number; readonly upstream: string | null }
  /**
   * A decision of the relay's own, announced in an `#account` it emits: the account's local
   * status, and whether its PDS was confirmed active (a reactivation the PDS did not announce).
   * `upstream`: another status the PDS announced with it (an account back from deleted upstream
   * that the relay throttles for want of a slot, where the PDS said `deactivated`, say).
   */
  | {
      readonly kind: 'relay-status'
      readonly localStatus: LocalStatus
      readonly upstreamActive: boolean
      readonly upstream?: string
    }

/** The state after `event`, at time `now` (milliseconds). An unknown account starts afresh. */
export function applyAccountEvent(
  before: AccountState | undefined,
  did: string,
  event: AccountEvent,
  now: number,
): AccountState {
  const hostId =
    event.kind === 'relay-status' || (event.kind === 'identity' && before)
      ? (before?.hostId ?? RELAY_HOST_ID)
      : event.hostId
  const state = { ...(before ?? newAccount(did, hostId, now)), hostId, updatedAt: now }
  switch (event.kind) {
    case 'head':
      return { ...state, rev: event.rev, commitCid: event.commitCid, dataCid: event.dataCid }
    case 'identity':
      return { ...state, handle: event.handle }
    case 'upstream-status':
      return event.upstream === null ? state : { ...state, upstreamStatus: event.upstream }
    case 'relay-status':
      return {
        ...state,
        localStatus: event.localStatus,
        ...(event.upstreamActive
          ? { upstreamStatus: 'active' }
          : event.upstream !== undefined
            ? { upstreamStatus: event.upstream }
            : {}),
      }
  }
}

/** What an `#account` message's fields say of the status: `active`, or the status named. */
export function announcedStatus(active: boolean, status: string | undefined): string {
  return active ? 'active' : (status ?? 'deactivated')
}

/**
 * The note an `#account` record carries in the event log for the status event behind it, so
 * recovery reads back the event itself: the relay emits its own view of an account (a local
 * status masks the PDS's), which does not always say what happened.
 * `upstream=<status>`, or `local=<status>` with `,upstream=active` for a confirmed reactivation
 * (or `,upstream=<status>` for another status the PDS announced with it).
 */
export function statusNote(
  event: AccountEvent & { kind: 'upstream-status' | 'relay-status' },
): string {
  if (event.kind === 'upstream-status') return `upstream=${event.upstream ?? ''}`
  const upstream = event.upstreamActive ? 'active' : event.upstream
  return `local=${event.localStatus}${upstream !== undefined ? `,upstream=${upstream}` : ''}`
}

/** The status event a note describes (null when the note is not one `statusNote` wrote). */
export function statusEventOfNote(note: string, hostId: number): AccountEvent | null {
  if (note.startsWith('upstream=')) {
    const upstream = note.slice('upstream='.length)
    return upstream === '' ? null : { kind: 'upstream-status', hostId, upstream }
  }
  const m = new RegExp(`^local=(${LOCAL_STATUSES.join('|')})(?:,upstream=([^,]+))?$`).exec(note)
  if (!m) return null
  const localStatus = m[1] as LocalStatus
  if (m[2] === undefined || m[2] === 'active') {
    return { kind: 'relay-status', localStatus, upstreamActive: m[2] !== undefined }
  }
  return { kind: 'relay-status', localStatus, upstreamActive: false, upstream: m[2] }
}
