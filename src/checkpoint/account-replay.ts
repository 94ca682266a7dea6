// Reading the log back as account events, for start-up recovery: each accepted record becomes
// the event the live relay applied when it accepted it (accounts/account-events.ts), so the one
// account-state rule rebuilds what the database lacks.
// - `#commit`, `#sync`: the head, from the signed commit at the CAR's root.
// - `#identity`: the handle the relay emitted (the one the DID document claimed).
// - `#account`: the status event, from the note the relay wrote with the record. Records written
//   before notes existed are read from their body, which is the relay's view: a local status
//   (takendown, throttled) masks what the PDS said, so for those the upstream status is left as
//   it was, and a relay record naming `takendown` or `throttled` is taken as the local status.
// Deliberately not here: applying the event (the rule), I/O.
import {
  type AccountEvent,
  announcedStatus,
  statusEventOfNote,
} from '../accounts/account-events.ts'
import { type AccountState, LOCAL_STATUSES, type LocalStatus } from '../accounts/account-state.ts'
import type { LogRecord } from '../eventlog/types.ts'
import { RELAY_HOST_ID } from '../hosts/host-id.ts'
import { readCarSlice } from '../protocol/car.ts'
import { parseCommit } from '../protocol/commit.ts'
import { decodeFrame } from '../protocol/frame.ts'
import { parseMessage } from '../protocol/messages.ts'

/** The account event behind a log record, or null for a record that is not one. */
export function replayedEvent(
  record: LogRecord,
  before: AccountState | undefined,
): { did: string; event: AccountEvent } | null {
  const frame = decodeFrame(record.frame)
  if (frame.op !== 1) return null
  const msg = parseMessage(frame)
  switch (msg.type) {
    case '#commit':
    case '#sync': {
      const car = readCarSlice(msg.blocks)
      const commitCid = car.roots[0]!
      const commit = parseCommit(car.blocks.get(commitCid)!)
      const did = msg.type === '#commit' ? msg.repo : msg.did
      return {
        did,
        event: {
          kind: 'head',
          hostId: record.hostId,
          rev: commit.rev,
          commitCid,
          dataCid: commit.data.$link,
        },
      }
    }
    case '#identity':
      return {
        did: msg.did,
        event: { kind: 'identity', hostId: record.hostId, handle: msg.handle ?? null },
      }
    case '#account': {
      const noted = record.note ? statusEventOfNote(record.note, record.hostId) : null
      return { did: msg.did, event: noted ?? statusFromBody(record.hostId, msg, before) }
    }
    default:
      return null
  }
}

/** The status event of an `#account` record written without a note (see the header). */
function statusFromBody(
  hostId: number,
  body: { active: boolean; status?: string },
  before: AccountState | undefined,
): AccountEvent {
  if (hostId === RELAY_HOST_ID) {
    const local: LocalStatus = LOCAL_STATUSES.includes(body.status as LocalStatus)
      ? (body.status as LocalStatus)
      : 'active'
    return { kind: 'relay-status', localStatus: local, upstreamActive: body.active }
  }
  const masked = before !== undefined && before.localStatus !== 'active'
  return {
    kind: 'upstream-status',
    hostId,
    upstream: masked ? null : announcedStatus(body.active, body.status),
  }
}
