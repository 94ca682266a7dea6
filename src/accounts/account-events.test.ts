import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  type AccountEvent,
  announcedStatus,
  applyAccountEvent,
  statusEventOfNote,
  statusNote,
} from './account-events.ts'
import { type AccountState, LOCAL_STATUSES, newAccount } from './account-state.ts'

const DID = 'did:plc:abcdefghijklmnopqrstuvwx'
const T0 = 1_700_000_000_000
const T1 = T0 + 5_000

/** An account on host 7 with everything set, frozen so a mutation would throw. */
function existing(over: Partial<AccountState> = {}): AccountState {
  return Object.freeze({
    did: DID,
    hostId: 7,
    localStatus: 'active',
    upstreamStatus: 'active',
    rev: '3laaaaaaaaaa2',
    commitCid: 'bafyreicommitold',
    dataCid: 'bafyreidataold',
    handle: 'alice.test',
    createdAt: T0,
    updatedAt: T0,
    ...over,
  } satisfies AccountState)
}

describe('applyAccountEvent', () => {
  it('head: sets rev, commit and data CIDs, keeps the rest', () => {
    const before = existing({ localStatus: 'throttled', upstreamStatus: 'deactivated' })
    const after = applyAccountEvent(
      before,
      DID,
      { kind: 'head', hostId: 7, rev: '3lbbbbbbbbbb2', commitCid: 'c2', dataCid: 'd2' },
      T1,
    )
    assert.deepEqual(after, {
      ...before,
      rev: '3lbbbbbbbbbb2',
      commitCid: 'c2',
      dataCid: 'd2',
      updatedAt: T1,
    })
  })

  it('identity: sets the handle, including to null', () => {
    const before = existing()
    const named = applyAccountEvent(
      before,
      DID,
      { kind: 'identity', hostId: 7, handle: 'bob.test' },
      T1,
    )
    assert.deepEqual(named, { ...before, handle: 'bob.test', updatedAt: T1 })
    const cleared = applyAccountEvent(named, DID, { kind: 'identity', hostId: 7, handle: null }, T1)
    assert.equal(cleared.handle, null)
  })

  it('upstream-status: sets the announced status, local status untouched', () => {
    const before = existing({ localStatus: 'takendown' })
    const after = applyAccountEvent(
      before,
      DID,
      { kind: 'upstream-status', hostId: 7, upstream: 'deleted' },
      T1,
    )
    assert.deepEqual(after, { ...before, upstreamStatus: 'deleted', updatedAt: T1 })
  })

  it('upstream-status with upstream null keeps the stored upstream status', () => {
    const before = existing({ localStatus: 'takendown', upstreamStatus: 'suspended' })
    const after = applyAccountEvent(
      before,
      DID,
      { kind: 'upstream-status', hostId: 7, upstream: null },
      T1,
    )
    assert.deepEqual(after, { ...before, updatedAt: T1 })
  })

  it('relay-status without upstreamActive: sets the local status only', () => {
    const before = existing({ upstreamStatus: 'deactivated' })
    const after = applyAccountEvent(
      before,
      DID,
      { kind: 'relay-status', localStatus: 'takendown', upstreamActive: false },
      T1,
    )
    assert.deepEqual(after, { ...before, localStatus: 'takendown', updatedAt: T1 })
  })

  it('relay-status with upstreamActive: sets the local status and upstream active', () => {
    const before = existing({ localStatus: 'throttled', upstreamStatus: 'deactivated' })
    const after = applyAccountEvent(
      before,
      DID,
      { kind: 'relay-status', localStatus: 'active', upstreamActive: true },
      T1,
    )
    assert.deepEqual(after, {
      ...before,
      localStatus: 'active',
      upstreamStatus: 'active',
      updatedAt: T1,
    })
  })

  it('moves the account to the host of an event from another host', () => {
    const events: AccountEvent[] = [
      { kind: 'head', hostId: 9, rev: '3lbbbbbbbbbb2', commitCid: 'c', dataCid: 'd' },
      { kind: 'upstream-status', hostId: 9, upstream: 'active' },
      { kind: 'upstream-status', hostId: 9, upstream: null },
    ]
    for (const event of events) {
      const after = applyAccountEvent(existing(), DID, event, T1)
      assert.equal(after.hostId, 9, event.kind)
    }
  })

  it('an #identity does not move a known account (any host may announce one); it places a new one', () => {
    const known = applyAccountEvent(
      existing({ hostId: 12 }),
      DID,
      { kind: 'identity', hostId: 9, handle: 'alice.test' },
      T1,
    )
    assert.deepEqual([known.hostId, known.handle], [12, 'alice.test'])
    const fresh = applyAccountEvent(
      undefined,
      DID,
      { kind: 'identity', hostId: 9, handle: null },
      T1,
    )
    assert.equal(fresh.hostId, 9)
  })

  it('relay-status keeps the account’s host', () => {
    const after = applyAccountEvent(
      existing({ hostId: 12 }),
      DID,
      { kind: 'relay-status', localStatus: 'takendown', upstreamActive: false },
      T1,
    )
    assert.equal(after.hostId, 12)
  })

  it('starts an unknown account from newAccount on the event’s host', () => {
    const after = applyAccountEvent(
      undefined,
      DID,
      { kind: 'head', hostId: 3, rev: '3lbbbbbbbbbb2', commitCid: 'c', dataCid: 'd' },
      T1,
    )
    assert.deepEqual(after, {
      ...newAccount(DID, 3, T1),
      rev: '3lbbbbbbbbbb2',
      commitCid: 'c',
      dataCid: 'd',
    })
  })

  it('starts an unknown account with upstream status from its first #account', () => {
    const after = applyAccountEvent(
      undefined,
      DID,
      { kind: 'upstream-status', hostId: 3, upstream: 'deactivated' },
      T1,
    )
    assert.deepEqual(after, { ...newAccount(DID, 3, T1), upstreamStatus: 'deactivated' })
  })

  it('starts an unknown account from a relay decision on host 0', () => {
    const after = applyAccountEvent(
      undefined,
      DID,
      { kind: 'relay-status', localStatus: 'takendown', upstreamActive: false },
      T1,
    )
    assert.deepEqual(after, { ...newAccount(DID, 0, T1), localStatus: 'takendown' })
  })

  it('sets updatedAt to now and keeps createdAt', () => {
    const after = applyAccountEvent(
      existing(),
      DID,
      { kind: 'identity', hostId: 7, handle: 'x.test' },
      T1,
    )
    assert.equal(after.updatedAt, T1)
    assert.equal(after.createdAt, T0)
  })

  it('does not mutate its inputs', () => {
    const before = existing()
    const snapshot = { ...before }
    const event: AccountEvent = Object.freeze({
      kind: 'relay-status',
      localStatus: 'throttled',
      upstreamActive: true,
    })
    const after = applyAccountEvent(before, DID, event, T1)
    assert.notEqual(after, before)
    assert.deepEqual(before, snapshot)
    assert.deepEqual(event, {
      kind: 'relay-status',
      localStatus: 'throttled',
      upstreamActive: true,
    })
  })
})

describe('announcedStatus', () => {
  it('is active when active, whatever the status says', () => {
    assert.equal(announcedStatus(true, undefined), 'active')
    assert.equal(announcedStatus(true, 'deleted'), 'active')
  })

  it('is the status named when inactive, deactivated when none is', () => {
    assert.equal(announcedStatus(false, 'deleted'), 'deleted')
    assert.equal(announcedStatus(false, 'suspended'), 'suspended')
    assert.equal(announcedStatus(false, undefined), 'deactivated')
  })
})

describe('statusNote and statusEventOfNote', () => {
  const HOST = 42

  it('round-trips every upstream status', () => {
    for (const upstream of ['active', 'deactivated', 'deleted', 'suspended', 'takendown']) {
      const event = { kind: 'upstream-status', hostId: HOST, upstream } as const
      const note = statusNote(event)
      assert.equal(note, `upstream=${upstream}`)
      assert.deepEqual(statusEventOfNote(note, HOST), event)
    }
  })

  it('round-trips every relay decision, with and without upstreamActive', () => {
    for (const localStatus of LOCAL_STATUSES) {
      for (const upstreamActive of [false, true]) {
        const event = { kind: 'relay-status', localStatus, upstreamActive } as const
        const note = statusNote(event)
        assert.equal(
          note,
          upstreamActive ? `local=${localStatus},upstream=active` : `local=${localStatus}`,
        )
        assert.deepEqual(statusEventOfNote(note, HOST), event)
      }
    }
  })

  it('round-trips a relay decision with another status the PDS announced', () => {
    // An account back from deleted that the relay throttles for want of a slot, the PDS saying
    // deactivated: the note keeps what the PDS said, and replay sets it again.
    const event = {
      kind: 'relay-status',
      localStatus: 'throttled',
      upstreamActive: false,
      upstream: 'deactivated',
    } as const
    const note = statusNote(event)
    assert.equal(note, 'local=throttled,upstream=deactivated')
    assert.deepEqual(statusEventOfNote(note, HOST), event)
    const before = { ...newAccount('did:plc:x', HOST, 0), upstreamStatus: 'deleted' }
    const after = applyAccountEvent(before, 'did:plc:x', event, 1)
    assert.deepEqual([after.localStatus, after.upstreamStatus], ['throttled', 'deactivated'])
  })

  it('reads the host id from the record, not the note', () => {
    assert.deepEqual(statusEventOfNote('upstream=deleted', 5), {
      kind: 'upstream-status',
      hostId: 5,
      upstream: 'deleted',
    })
  })

  it('writes an unknown upstream as empty, which reads back as no event', () => {
    const note = statusNote({ kind: 'upstream-status', hostId: HOST, upstream: null })
    assert.equal(note, 'upstream=')
    assert.equal(statusEventOfNote(note, HOST), null)
  })

  it('returns null for notes it did not write', () => {
    for (const note of [
      '',
      'garbage',
      'local=bogus',
      'local=',
      'local=takendown,upstream=',
      'local=active,upstream=active,extra',
      'Local=active',
      ' local=active',
      'upstream',
    ])
      assert.equal(statusEventOfNote(note, HOST), null, JSON.stringify(note))
  })
})
