// Ingest's account operations and identity events, with the real account cache and takedown
// set; the parts below ingest are small recording stand-ins for their one-method interfaces (a
// log that keeps what was appended, DID documents from a table, two hosts). Checked: a takedown
// hides the account at once and announces `takendown` as the relay's own `#account`; reversing
// it announces the status again; both refuse unknown accounts. Releasing throttled accounts
// writes account states first, releases the oldest, and announces each, each into a slot of its
// own (a host with fewer slots left than were asked releases fewer; where slots are asked of
// another thread, each release asks). An event that fails after its new account was granted a
// slot gives it back; an account back from deleted upstream takes a slot again (throttled when
// none is left); a new account resynced into the mirror is checked for a slot again after the
// import's await. An `#identity` from a
// host other than the account's is passed on but never moves the account (any host may say an
// identity changed); an unknown account's `#identity` from a host its document does not name is
// dropped as `wrong-host`. Commits are covered by the conformance and end-to-end tests.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AccountCache, type AccountPersistence } from '../accounts/account-cache.ts'
import type { AccountState } from '../accounts/account-state.ts'
import { Takedowns } from '../accounts/takedowns.ts'
import { DatabaseError } from '../db/errors.ts'
import type { AppendInput, LogRecord } from '../eventlog/types.ts'
import { RELAY_HOST_ID } from '../hosts/host-id.ts'
import type { Identity } from '../identity/did-document.ts'
import { decodeFrame } from '../protocol/frame.ts'
import { frameWithSeq } from '../protocol/output.ts'
import type { Drop } from './drop-counter.ts'
import { Ingest } from './ingest.ts'
import type { IngestMirror } from './types.ts'

const ALICE = 'did:plc:aliceaaaaaaaaaaaaaaaaaaa'
const BOB = 'did:plc:bobbbbbbbbbbbbbbbbbbbbbb'
const CAROL = 'did:plc:carolccccccccccccccccccc'
const HOSTS = new Map([
  [1, 'pds-one.example.test'],
  [2, 'pds-two.example.test'],
])
const T = '2025-01-01T00:00:00.000Z'

interface Rig {
  readonly ingest: Ingest
  readonly accounts: AccountCache
  readonly takedowns: Takedowns
  readonly stored: Map<string, AccountState>
  /** What was appended to the log, decoded. */
  readonly appended: { hostId: number; type: string; body: Record<string, unknown> }[]
  readonly drops: Drop[]
  readonly settled: { hostId: number; seq: number; dropped: boolean }[]
  /** Calls in order: `flush`, `oldest`. */
  readonly calls: string[]
  /** Repairs asked for, as `did@hostId`. */
  readonly repairs: string[]
  /** An account already known on host `hostId`. */
  known(did: string, hostId: number, localStatus?: AccountState['localStatus']): Promise<void>
  /** The next account loads fail with this error, one per load, in order. */
  readonly loadFailures: Error[]
  /** The next log appends fail with this error, one per append, in order. */
  readonly appendFailures: Error[]
  /** Account count changes told to the hosts: [hostId, delta, did]. */
  readonly counts: [number, number, string | undefined][]
}

interface RigOptions {
  /** Every host's slots, counted as the rig is told (default: 0 of 100). */
  readonly slots?: { count: number; limit: number }
  /** Slots asked of another thread (as in an account shard). */
  readonly askSlot?: (hostId: number, did: string) => Promise<boolean>
  /** Archival mode's mirror. */
  readonly mirror?: IngestMirror
}

function rig(documents: Record<string, string>, opts: RigOptions = {}): Rig {
  const stored = new Map<string, AccountState>()
  const loadFailures: Error[] = []
  const appendFailures: Error[] = []
  const counts: Rig['counts'] = []
  const slots = opts.slots ?? { count: 0, limit: 100 }
  const persistence: AccountPersistence = {
    load: async (did) => {
      const failure = loadFailures.shift()
      if (failure) throw failure
      return stored.get(did)
    },
    save: async (states) => {
      for (const s of states) stored.set(s.did, s)
    },
  }
  const accounts = new AccountCache(persistence, { maxEntries: 100 })
  const takedowns = new Takedowns()
  const appended: Rig['appended'] = []
  const drops: Drop[] = []
  const settled: Rig['settled'] = []
  const calls: string[] = []
  const repairs: string[] = []
  let seq = 0
  const identityOf = (did: string): Identity => ({
    did,
    pds: documents[did] ? `https://${documents[did]}` : null,
    handle: null,
    signingKey: null,
  })
  const ingest = new Ingest({
    identity: {
      resolve: async (did) => ({ identity: identityOf(did), stale: false }),
      peek: (did) => identityOf(did),
      purge: () => {},
    },
    accounts,
    takedowns,
    hosts: {
      ingestView: (id) => {
        const hostname = HOSTS.get(id)
        return hostname
          ? { id, hostname, banned: false, sync: { mode: null, effective: 'lenient', goodRun: 0 } }
          : undefined
      },
      commitAccepted: () => {},
      accountSlots: () => ({ ...slots }),
      adjustAccountCount: (hostId, delta, did) => {
        counts.push([hostId, delta, did])
        slots.count += delta
      },
      ...(opts.askSlot && { askSlot: opts.askSlot }),
      settled: (hostId, s, dropped) => settled.push({ hostId, seq: s, dropped }),
    },
    log: {
      append: (input: AppendInput): LogRecord => {
        const failure = appendFailures.shift()
        if (failure) throw failure
        seq++
        const frame = frameWithSeq(input.frame, seq)
        const decoded = decodeFrame(frame)
        assert.equal(decoded.op, 1)
        if (decoded.op === 1) {
          appended.push({ hostId: input.hostId, type: decoded.type, body: decoded.body })
        }
        return { ...input, seq, timeMs: 0, type: '', frame }
      },
    },
    verify: () => Promise.reject(new Error('no commits in these tests')),
    drops: { record: (d) => drops.push(d) },
    now: () => Date.parse(T),
    syncDefault: 'auto',
    oldestThrottled: async (_hostId, limit) => {
      calls.push('oldest')
      return [...stored.values()]
        .filter((s) => s.localStatus === 'throttled')
        .sort((a, b) => a.createdAt - b.createdAt)
        .slice(0, limit)
        .map((s) => s.did)
    },
    flushAccounts: async () => {
      calls.push('flush')
      await accounts.write(0)
    },
    identityRetry: { attempts: 1, delayMs: 0 },
    onDesynchronized: (did, hostId) => repairs.push(`${did}@${hostId}`),
    ...(opts.mirror && { mirror: opts.mirror }),
  })
  const known = async (did: string, hostId: number, localStatus = 'active' as const) => {
    // Created in the order the test names them: the first is the oldest.
    const createdAt = Date.parse(T) - 100_000 + 1000 * stored.size
    stored.set(did, {
      did,
      hostId,
      localStatus,
      upstreamStatus: 'active',
      rev: null,
      commitCid: null,
      dataCid: null,
      handle: null,
      createdAt,
      updatedAt: createdAt,
    })
  }
  return {
    ingest,
    accounts,
    takedowns,
    stored,
    appended,
    drops,
    settled,
    calls,
    repairs,
    known,
    loadFailures,
    appendFailures,
    counts,
  }
}

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

  it('an event that fails after its new account was granted a slot gives the slot back', async () => {
    const r = rig({ [CAROL]: HOSTS.get(2)! }, { askSlot: async () => true })
    r.appendFailures.push(new Error('a bug between the grant and the store'))
    r.ingest.handle(2, { type: '#identity', seq: 1, did: CAROL, time: T }, new Uint8Array())
    await r.ingest.idle()
    assert.equal(r.ingest.stats.errors, 1)
    assert.equal(await r.accounts.get(CAROL), undefined, 'never stored')
    assert.deepEqual(r.counts, [[2, 0, CAROL]], 'told with 0: the granted slot goes back')
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
