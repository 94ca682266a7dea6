// Ingest's account operations and identity events, with the real account cache and takedown
// set; the parts below ingest are small recording stand-ins (testing/ingest-rig.ts). Checked: a
// takedown hides the account at once and announces `takendown` as the relay's own `#account`;
// reversing it announces the status again; both refuse unknown accounts. An `#identity` from a
// host other than the account's is passed on but never moves the account (any host may say an
// identity changed); an unknown account's `#identity` from a host its document does not name is
// dropped as `wrong-host`. An event meeting the database away waits, and any other failure
// completes it as an error. Account slots are in ingest-slots.test.ts; commits are covered by
// the conformance and end-to-end tests.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DatabaseError } from '../db/errors.ts'
import { RELAY_HOST_ID } from '../hosts/host-id.ts'
import { ALICE, BOB, CAROL, HOSTS, rig, T } from './testing/ingest-rig.ts'

describe('Ingest: takedowns', () => {
  it('hides the account, stores takendown and announces it as the relay’s own #account', async () => {
    const r = rig({})
    await r.known(ALICE, 1)
    assert.equal(await r.ingest.takeDown(ALICE), true)
    assert.equal(r.takedowns.has(ALICE), true)
    assert.equal((await r.accounts.get(ALICE))?.localStatus, 'takendown')
    assert.deepEqual(r.appended, [
      {
        hostId: RELAY_HOST_ID,
        type: '#account',
        body: { seq: 1, did: ALICE, time: T, active: false, status: 'takendown' },
      },
    ])
    // A second takedown changes nothing and announces nothing.
    assert.equal(await r.ingest.takeDown(ALICE), true)
    assert.equal(r.appended.length, 1)
  })

  it('refuses an unknown account and leaves it visible', async () => {
    const r = rig({})
    assert.equal(await r.ingest.takeDown(BOB), false)
    assert.equal(r.takedowns.has(BOB), false)
    assert.deepEqual(r.appended, [])
  })

  it('reverses a takedown: active again, announced, no longer hidden', async () => {
    const r = rig({})
    await r.known(ALICE, 1)
    await r.ingest.takeDown(ALICE)
    assert.equal(await r.ingest.reverseTakedown(ALICE), 'reversed')
    assert.equal(r.takedowns.has(ALICE), false)
    assert.equal((await r.accounts.get(ALICE))?.localStatus, 'active')
    assert.deepEqual(r.appended.at(-1), {
      hostId: RELAY_HOST_ID,
      type: '#account',
      body: { seq: 2, did: ALICE, time: T, active: true },
    })
  })

  it('reverse answers unknown-account and not-taken-down without announcing anything', async () => {
    const r = rig({})
    await r.known(ALICE, 1)
    assert.equal(await r.ingest.reverseTakedown(BOB), 'unknown-account')
    assert.equal(await r.ingest.reverseTakedown(ALICE), 'not-taken-down')
    assert.deepEqual(r.appended, [])
  })
})

describe('Ingest: #identity', () => {
  it('from a host other than the account’s: passed on, and the account stays where it is', async () => {
    const r = rig({ [ALICE]: HOSTS.get(1)! })
    await r.known(ALICE, 1)
    r.ingest.handle(2, { type: '#identity', seq: 7, did: ALICE, time: T }, new Uint8Array())
    await r.ingest.idle()
    assert.deepEqual(r.drops, [])
    assert.deepEqual(r.settled, [{ hostId: 2, seq: 7, dropped: false }])
    assert.deepEqual(
      r.appended.map((a) => [a.hostId, a.type, a.body.did]),
      [[2, '#identity', ALICE]],
    )
    assert.equal((await r.accounts.get(ALICE))?.hostId, 1, 'not moved to host 2')
  })

  it('of an unknown account, from a host its DID document does not name: wrong-host', async () => {
    const r = rig({ [BOB]: HOSTS.get(1)! })
    r.ingest.handle(2, { type: '#identity', seq: 3, did: BOB, time: T }, new Uint8Array())
    await r.ingest.idle()
    assert.deepEqual(
      r.drops.map((d) => [d.hostId, d.reason, d.did, d.seq]),
      [[2, 'wrong-host', BOB, 3]],
    )
    assert.deepEqual(r.settled, [{ hostId: 2, seq: 3, dropped: true }])
    assert.deepEqual(r.appended, [])
    assert.equal(await r.accounts.get(BOB), undefined)
  })

  it('of an unknown account from its own host: a new account on that host', async () => {
    const r = rig({ [CAROL]: HOSTS.get(2)! })
    r.ingest.handle(2, { type: '#identity', seq: 1, did: CAROL, time: T }, new Uint8Array())
    await r.ingest.idle()
    assert.deepEqual(r.drops, [])
    assert.equal((await r.accounts.get(CAROL))?.hostId, 2)
  })
})

describe('Ingest: the database away', () => {
  it('an event waits while the database is unreachable or busy, then is accepted once', async () => {
    const r = rig({ [CAROL]: HOSTS.get(2)! })
    r.loadFailures.push(
      new DatabaseError('accounts.load', 'unavailable'),
      new DatabaseError('accounts.load', 'busy'),
    )
    r.ingest.handle(2, { type: '#identity', seq: 1, did: CAROL, time: T }, new Uint8Array())
    await r.ingest.idle()
    assert.equal(r.ingest.stats.retries, 2)
    assert.equal(r.ingest.stats.errors, 0)
    assert.deepEqual(r.settled, [{ hostId: 2, seq: 1, dropped: false }])
    assert.deepEqual(
      r.appended.map((a) => [a.type, a.body.did]),
      [['#identity', CAROL]],
    )
  })

  it('any other failure completes the event as an error (a bug must not wedge the host)', async () => {
    const r = rig({ [CAROL]: HOSTS.get(2)! })
    r.loadFailures.push(new DatabaseError('accounts.load', 'query'))
    r.ingest.handle(2, { type: '#identity', seq: 1, did: CAROL, time: T }, new Uint8Array())
    await r.ingest.idle()
    assert.equal(r.ingest.stats.retries, 0)
    assert.equal(r.ingest.stats.errors, 1)
    assert.deepEqual(r.settled, [{ hostId: 2, seq: 1, dropped: true }])
    assert.deepEqual(r.appended, [])
  })

  it('a database closed by shutdown leaves the event unsettled, to come again after restart', async () => {
    const r = rig({ [CAROL]: HOSTS.get(2)! })
    r.loadFailures.push(new DatabaseError('accounts.load', 'closed'))
    r.ingest.handle(2, { type: '#identity', seq: 1, did: CAROL, time: T }, new Uint8Array())
    await r.ingest.idle()
    assert.deepEqual(r.settled, [])
    assert.equal(r.ingest.stats.inFlight, 0)
  })

  it('stop ends the wait: the event is left unsettled, to come again after a restart', async () => {
    const r = rig({ [CAROL]: HOSTS.get(2)! })
    for (let i = 0; i < 100; i++)
      r.loadFailures.push(new DatabaseError('accounts.load', 'unavailable'))
    r.ingest.handle(2, { type: '#identity', seq: 1, did: CAROL, time: T }, new Uint8Array())
    while (r.ingest.stats.retries === 0) await new Promise((res) => setTimeout(res, 5))
    r.ingest.stop()
    await r.ingest.idle()
    assert.deepEqual(r.settled, [])
    assert.deepEqual(r.appended, [])
    assert.equal(r.ingest.stats.inFlight, 0)
  })
})
