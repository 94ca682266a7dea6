// Account slots as ingest takes them (docs/design.md §4.14), on the recording rig
// (testing/ingest-rig.ts). Releasing throttled accounts writes account states first, releases
// the oldest, and announces each, each into a slot of its own: a host with fewer slots left
// than were asked releases fewer, and where slots are asked of another thread (an account
// shard) each release asks. A new account resynced into the mirror is checked for a slot again
// after the import's await. An `#account` announcing a new account deleted gives back the slot
// granted it; an account back from deleted upstream takes a slot again (throttled when none is
// left, keeping what the PDS said; a takedown holds). An event that fails after its new account
// was granted a slot gives the slot back.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { RELAY_HOST_ID } from '../hosts/host-id.ts'
import { ALICE, BOB, CAROL, HOSTS, rig, T } from './testing/ingest-rig.ts'
import type { IngestMirror } from './types.ts'

describe('Ingest: releasing throttled accounts', () => {
  // Released accounts are desynchronized, not active: their commits were dropped while throttled,
  // so consumers need the repair's #sync before the account is whole again.
  it('writes account states first, releases the oldest `slots` and announces each', async () => {
    const r = rig({})
    for (const did of [ALICE, BOB, CAROL]) await r.known(did, 1, 'throttled')
    assert.equal(await r.ingest.releaseThrottled(1, 2), 2)
    assert.deepEqual(r.calls, ['flush', 'oldest'], 'stored states are current before the pick')
    const statuses = []
    for (const did of [ALICE, BOB, CAROL]) statuses.push((await r.accounts.get(did))?.localStatus)
    assert.deepEqual(statuses, ['desynchronized', 'desynchronized', 'throttled'])
    assert.deepEqual(r.repairs, [`${ALICE}@1`, `${BOB}@1`], 'each released account is repaired')
    assert.deepEqual(
      r.appended.map((a) => [a.hostId, a.type, a.body.did, a.body.active]),
      [
        [RELAY_HOST_ID, '#account', ALICE, true],
        [RELAY_HOST_ID, '#account', BOB, true],
      ],
    )
  })

  it('each release takes a slot: with fewer left than asked, fewer are released', async () => {
    // New accounts admitted after the limit was raised took the slots in between.
    const r = rig({}, { slots: { count: 9, limit: 10 } })
    for (const did of [ALICE, BOB, CAROL]) await r.known(did, 1, 'throttled')
    assert.equal(await r.ingest.releaseThrottled(1, 2), 1)
    const statuses = []
    for (const did of [ALICE, BOB, CAROL]) statuses.push((await r.accounts.get(did))?.localStatus)
    assert.deepEqual(statuses, ['desynchronized', 'throttled', 'throttled'])
    assert.deepEqual(r.counts, [[1, 1, ALICE]])
    assert.deepEqual(r.repairs, [`${ALICE}@1`])
  })

  it('where slots are asked of another thread, each release asks; a refused one stays', async () => {
    const answers = [true, false]
    const asked: string[] = []
    const r = rig(
      {},
      {
        askSlot: async (_hostId, did) => {
          asked.push(did)
          return answers.shift() ?? false
        },
      },
    )
    for (const did of [ALICE, BOB]) await r.known(did, 1, 'throttled')
    assert.equal(await r.ingest.releaseThrottled(1, 2), 1)
    assert.deepEqual(asked, [ALICE, BOB])
    assert.equal((await r.accounts.get(BOB))?.localStatus, 'throttled')
    assert.deepEqual(r.counts, [[1, 1, ALICE]], 'the grant, named (counted where it was granted)')
  })

  it('a new account resynced into the mirror is checked again after the import (one thread)', async () => {
    // The import awaits; another new account took the host's last slot meanwhile.
    const slots = { count: 0, limit: 1 }
    const deleted: string[] = []
    const mirror: IngestMirror = {
      applyCommit: () => Promise.reject(new Error('not used')),
      importRepo: async () => {
        slots.count = 1
        return { changed: true }
      },
      delete: async (did) => {
        deleted.push(did)
        return true
      },
    }
    const r = rig({}, { slots, mirror })
    const head = {
      rev: '3l3qo2vutsw2b',
      commitCid: 'bafy-c',
      dataCid: 'bafy-d',
      commitBlock: new Uint8Array(),
    }
    const { result, state } = await r.ingest.resynchronize(ALICE, {
      hostId: 1,
      head,
      tree: new Map(),
      announce: true,
    })
    assert.equal(result, 'refused')
    assert.equal(state?.localStatus, 'throttled')
    assert.equal((await r.accounts.get(ALICE))?.localStatus, 'throttled', 'stored throttled')
    assert.deepEqual(deleted, [ALICE], 'its imported repo is not kept')
    assert.deepEqual(r.appended, [])
    assert.equal(slots.count, 1, 'the limit holds')
  })

  it('releases nothing for no slots, without touching the store', async () => {
    const r = rig({})
    await r.known(ALICE, 1, 'throttled')
    assert.equal(await r.ingest.releaseThrottled(1, 0), 0)
    assert.deepEqual(r.calls, [])
    assert.equal((await r.accounts.get(ALICE))?.localStatus, 'throttled')
  })
})

describe('Ingest: slots of accounts new or back', () => {
  it('an #account announcing an unknown account deleted gives back the slot granted it', async () => {
    const asked: string[] = []
    const r = rig(
      { [CAROL]: HOSTS.get(2)! },
      {
        askSlot: async (_hostId, did) => {
          asked.push(did)
          return true
        },
      },
    )
    const msg = { type: '#account', seq: 1, did: CAROL, time: T, active: false, status: 'deleted' }
    r.ingest.handle(2, msg as never, new Uint8Array())
    await r.ingest.idle()
    assert.deepEqual(r.drops, [])
    assert.deepEqual(asked, [CAROL], 'asked as any new account (a full host throttles it)')
    assert.equal((await r.accounts.get(CAROL))?.upstreamStatus, 'deleted')
    assert.deepEqual(r.counts, [[2, 0, CAROL]], 'a new account taking none: told of with 0')
  })

  it('an account back from deleted upstream takes a slot; none left, it is throttled', async () => {
    const full = rig({ [ALICE]: HOSTS.get(1)! }, { slots: { count: 1, limit: 1 } })
    await full.known(ALICE, 1)
    full.stored.set(ALICE, { ...full.stored.get(ALICE)!, upstreamStatus: 'deleted' })
    const back = { type: '#account', seq: 5, did: ALICE, time: T, active: true }
    full.ingest.handle(1, back as never, new Uint8Array())
    await full.ingest.idle()
    const stored = await full.accounts.get(ALICE)
    assert.deepEqual([stored?.localStatus, stored?.upstreamStatus], ['throttled', 'active'])
    assert.deepEqual(full.counts, [], 'no slot taken')
    assert.deepEqual(
      full.appended.map((a) => [a.type, a.body.active, a.body.status]),
      [['#account', false, 'throttled']],
      'announced as the relay sees it',
    )

    // Deactivated rather than active: still throttled for want of a slot, and what the PDS said
    // is kept (a release then takes a slot for it, and announces what the PDS said).
    const deactivated = rig({ [ALICE]: HOSTS.get(1)! }, { slots: { count: 1, limit: 1 } })
    await deactivated.known(ALICE, 1)
    deactivated.stored.set(ALICE, { ...deactivated.stored.get(ALICE)!, upstreamStatus: 'deleted' })
    const asleep = { ...back, seq: 6, active: false, status: 'deactivated' }
    deactivated.ingest.handle(1, asleep as never, new Uint8Array())
    await deactivated.ingest.idle()
    const kept = await deactivated.accounts.get(ALICE)
    assert.deepEqual([kept?.localStatus, kept?.upstreamStatus], ['throttled', 'deactivated'])

    // Taken down: it stays taken down (and counts, as a takedown does), whatever the limit.
    const takenDown = rig({ [ALICE]: HOSTS.get(1)! }, { slots: { count: 1, limit: 1 } })
    await takenDown.known(ALICE, 1, 'takendown')
    takenDown.stored.set(ALICE, { ...takenDown.stored.get(ALICE)!, upstreamStatus: 'deleted' })
    takenDown.ingest.handle(1, back as never, new Uint8Array())
    await takenDown.ingest.idle()
    const still = await takenDown.accounts.get(ALICE)
    assert.deepEqual([still?.localStatus, still?.upstreamStatus], ['takendown', 'active'])

    const free = rig({ [ALICE]: HOSTS.get(1)! }, { slots: { count: 0, limit: 1 } })
    await free.known(ALICE, 1)
    free.stored.set(ALICE, { ...free.stored.get(ALICE)!, upstreamStatus: 'deleted' })
    free.ingest.handle(1, back as never, new Uint8Array())
    await free.ingest.idle()
    assert.equal((await free.accounts.get(ALICE))?.localStatus, 'active')
    assert.deepEqual(free.counts, [[1, 1, ALICE]])
  })

  it('an event that fails after its new account was granted a slot gives the slot back', async () => {
    const r = rig({ [CAROL]: HOSTS.get(2)! }, { askSlot: async () => true })
    r.appendFailures.push(new Error('a bug between the grant and the store'))
    r.ingest.handle(2, { type: '#identity', seq: 1, did: CAROL, time: T }, new Uint8Array())
    await r.ingest.idle()
    assert.equal(r.ingest.stats.errors, 1)
    assert.equal(await r.accounts.get(CAROL), undefined, 'never stored')
    assert.deepEqual(r.counts, [[2, 0, CAROL]], 'told with 0: the granted slot goes back')
  })
})
