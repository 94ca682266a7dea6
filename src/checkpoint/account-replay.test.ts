import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { generateKeypair } from '../../test/support/keypair.ts'
import { messageFrame, TestRepo } from '../../test/support/test-repo.ts'
import { statusNote } from '../accounts/account-events.ts'
import { type AccountState, newAccount } from '../accounts/account-state.ts'
import type { LogRecord } from '../eventlog/types.ts'
import { RELAY_HOST_ID } from '../hosts/host-id.ts'
import { encodeErrorFrame } from '../protocol/frame.ts'
import {
  accountBody,
  frameWithSeq,
  identityBody,
  prepareFrame,
  syncBody,
} from '../protocol/output.ts'
import { replayedEvent } from './account-replay.ts'

const DID = 'did:plc:ewvi7nxzyoun6zhxrhs64oiz'
const HOST = 5
const TIME = '2024-05-01T00:00:00.000Z'

/** A log record as the event log gives it back, around a frame the relay emitted. */
function record(
  type: string,
  body: Record<string, unknown>,
  opts: { hostId?: number; note?: string; seq?: number } = {},
): LogRecord {
  const seq = opts.seq ?? 100
  return {
    seq,
    timeMs: 1_700_000_000_000,
    hostId: opts.hostId ?? HOST,
    upstreamSeq: opts.hostId === RELAY_HOST_ID ? 0 : 33,
    did: DID,
    type,
    ...(opts.note !== undefined ? { note: opts.note } : {}),
    frame: frameWithSeq(prepareFrame(type, body), seq),
  }
}

function accountRecord(
  status: { active: boolean; status?: string },
  opts: { hostId?: number; note?: string } = {},
): LogRecord {
  return record('#account', accountBody({ did: DID, time: TIME, ...status }), opts)
}

function account(over: Partial<AccountState>): AccountState {
  return { ...newAccount(DID, HOST, 0), ...over }
}

describe('replayedEvent #commit and #sync', () => {
  it('a #commit gives the head: its rev, the CAR root CID and the MST data CID', async () => {
    const repo = new TestRepo(DID, generateKeypair('k256'))
    await repo.commit([{ action: 'create', path: 'app.bsky.feed.post/3laaaaaaaaaa2' }])
    const msg = await repo.commit([{ action: 'create', path: 'app.bsky.feed.post/3lbbbbbbbbbb2' }])
    const rec: LogRecord = {
      seq: 7,
      timeMs: 0,
      hostId: HOST,
      upstreamSeq: msg.seq,
      did: DID,
      type: '#commit',
      frame: messageFrame(msg),
    }
    const got = replayedEvent(rec, undefined)
    assert.deepEqual(got, {
      did: DID,
      event: {
        kind: 'head',
        hostId: HOST,
        rev: repo.rev,
        commitCid: repo.commitCid,
        dataCid: repo.root,
      },
    })
    assert.equal(got?.event.kind === 'head' && got.event.commitCid, msg.commit.$link)
  })

  it('a #sync gives the head of its signed commit', async () => {
    const repo = new TestRepo(DID, generateKeypair('k256'))
    await repo.commit([{ action: 'create', path: 'app.bsky.feed.post/3laaaaaaaaaa2' }])
    const commitBefore = repo.commitCid
    const msg = repo.sync()
    assert.notEqual(repo.commitCid, commitBefore)
    const got = replayedEvent(record('#sync', syncBody(msg), { hostId: 8 }), undefined)
    assert.deepEqual(got, {
      did: DID,
      event: {
        kind: 'head',
        hostId: 8,
        rev: repo.rev,
        commitCid: repo.commitCid,
        dataCid: repo.root,
      },
    })
  })
})

describe('replayedEvent #identity', () => {
  it('gives the handle the relay emitted', () => {
    const got = replayedEvent(record('#identity', identityBody(DID, TIME, 'alice.test')), undefined)
    assert.deepEqual(got, {
      did: DID,
      event: { kind: 'identity', hostId: HOST, handle: 'alice.test' },
    })
  })

  it('gives a null handle when the relay emitted none', () => {
    const got = replayedEvent(record('#identity', identityBody(DID, TIME, null)), undefined)
    assert.deepEqual(got, { did: DID, event: { kind: 'identity', hostId: HOST, handle: null } })
  })
})

describe('replayedEvent #account with a note', () => {
  it('gives the upstream status event the note names, not the body’s view', () => {
    // The relay emitted `takendown` (its local status masks the PDS), the PDS said deactivated.
    const rec = accountRecord(
      { active: false, status: 'takendown' },
      { note: statusNote({ kind: 'upstream-status', hostId: HOST, upstream: 'deactivated' }) },
    )
    const got = replayedEvent(rec, account({ localStatus: 'takendown' }))
    assert.deepEqual(got, {
      did: DID,
      event: { kind: 'upstream-status', hostId: HOST, upstream: 'deactivated' },
    })
  })

  it('gives the relay decision the note names', () => {
    const rec = accountRecord(
      { active: true },
      { hostId: RELAY_HOST_ID, note: 'local=active,upstream=active' },
    )
    assert.deepEqual(replayedEvent(rec, account({ localStatus: 'throttled' })), {
      did: DID,
      event: { kind: 'relay-status', localStatus: 'active', upstreamActive: true },
    })
  })

  it('a relay takedown note, whatever the body says', () => {
    const rec = accountRecord(
      { active: false, status: 'deleted' },
      { hostId: RELAY_HOST_ID, note: 'local=takendown' },
    )
    assert.deepEqual(replayedEvent(rec, undefined)?.event, {
      kind: 'relay-status',
      localStatus: 'takendown',
      upstreamActive: false,
    })
  })
})

describe('replayedEvent #account without a note (legacy records)', () => {
  it('from a host: the announced status', () => {
    const cases: [{ active: boolean; status?: string }, string][] = [
      [{ active: true }, 'active'],
      [{ active: false, status: 'deleted' }, 'deleted'],
      [{ active: false }, 'deactivated'],
    ]
    for (const [body, upstream] of cases) {
      assert.deepEqual(replayedEvent(accountRecord(body), account({})), {
        did: DID,
        event: { kind: 'upstream-status', hostId: HOST, upstream },
      })
      assert.deepEqual(replayedEvent(accountRecord(body), undefined)?.event, {
        kind: 'upstream-status',
        hostId: HOST,
        upstream,
      })
    }
  })

  it('from a host while the account’s local status is not active: upstream unknown (keep)', () => {
    for (const localStatus of ['takendown', 'throttled'] as const) {
      const rec = accountRecord({ active: false, status: localStatus })
      assert.deepEqual(replayedEvent(rec, account({ localStatus })), {
        did: DID,
        event: { kind: 'upstream-status', hostId: HOST, upstream: null },
      })
    }
  })

  it('a note it cannot read falls back to the body', () => {
    const rec = accountRecord({ active: false, status: 'suspended' }, { note: 'local=bogus' })
    assert.deepEqual(replayedEvent(rec, account({}))?.event, {
      kind: 'upstream-status',
      hostId: HOST,
      upstream: 'suspended',
    })
  })

  it('from the relay: takendown', () => {
    const rec = accountRecord({ active: false, status: 'takendown' }, { hostId: RELAY_HOST_ID })
    assert.deepEqual(replayedEvent(rec, account({})), {
      did: DID,
      event: { kind: 'relay-status', localStatus: 'takendown', upstreamActive: false },
    })
  })

  it('from the relay: throttled', () => {
    const rec = accountRecord({ active: false, status: 'throttled' }, { hostId: RELAY_HOST_ID })
    assert.deepEqual(replayedEvent(rec, account({}))?.event, {
      kind: 'relay-status',
      localStatus: 'throttled',
      upstreamActive: false,
    })
  })

  it('from the relay: active, with the PDS confirmed active', () => {
    const rec = accountRecord({ active: true }, { hostId: RELAY_HOST_ID })
    assert.deepEqual(replayedEvent(rec, account({ localStatus: 'takendown' }))?.event, {
      kind: 'relay-status',
      localStatus: 'active',
      upstreamActive: true,
    })
  })

  it('from the relay: a reversal to an inactive PDS status is local active only', () => {
    const rec = accountRecord({ active: false, status: 'deactivated' }, { hostId: RELAY_HOST_ID })
    assert.deepEqual(replayedEvent(rec, account({ localStatus: 'takendown' }))?.event, {
      kind: 'relay-status',
      localStatus: 'active',
      upstreamActive: false,
    })
  })
})

describe('replayedEvent of records that are not account events', () => {
  it('an error frame gives null', () => {
    const rec: LogRecord = {
      seq: 1,
      timeMs: 0,
      hostId: HOST,
      upstreamSeq: 1,
      did: DID,
      type: '#error',
      frame: encodeErrorFrame('FutureCursor', 'no'),
    }
    assert.equal(replayedEvent(rec, undefined), null)
  })

  it('an #info message gives null', () => {
    const rec = record('#info', { name: 'OutdatedCursor' })
    assert.equal(replayedEvent(rec, undefined), null)
  })
})
