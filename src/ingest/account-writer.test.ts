// A new account's slot where the count belongs to another thread (account shards: askSlot): the
// slot is asked for right before the account is stored, and a granted one is not counted twice;
// a new account that ends up taking no slot (a PDS announcing it deleted) gives the granted slot
// back, as does one admitted but then not stored; a refused one is throttled; a move's +1 names
// no account (so it cannot use a grant up). Where this thread counts, the answer needs no await.
// A released throttled account, and one back from deleted upstream, take a slot the same way,
// and are refused when none is left. A known account is never counted as new, even when the
// cache dropped it between its read and its store.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AccountCache } from '../accounts/account-cache.ts'
import { type AccountState, newAccount } from '../accounts/account-state.ts'
import { mapPersistence } from '../accounts/testing.ts'
import { AccountWriter } from './account-writer.ts'
import type { IngestDeps } from './types.ts'

const DID = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'

const OTHER = 'did:plc:bbbbbbbbbbbbbbbbbbbbbbbb'

function writer(
  askSlot?: (hostId: number, did: string) => Promise<boolean>,
  opts: { stored?: AccountState[]; maxEntries?: number; slots?: { count: number } } = {},
) {
  const counts: [number, number, string | undefined][] = []
  const asked: string[] = []
  const stored = new Map((opts.stored ?? []).map((s) => [s.did, s]))
  const accounts = new AccountCache(mapPersistence(stored), {
    maxEntries: opts.maxEntries ?? 100,
  })
  const deps = {
    accounts,
    hosts: {
      ingestView: () => undefined,
      commitAccepted: () => {},
      accountSlots: () => ({ count: (opts.slots ?? { count: 1 }).count, limit: 1 }),
      adjustAccountCount: (hostId: number, delta: number, did?: string) =>
        counts.push([hostId, delta, did]),
      settled: () => {},
      ...(askSlot && {
        askSlot: (hostId: number, did: string) => {
          asked.push(did)
          return askSlot(hostId, did)
        },
      }),
    },
    now: () => 1_000,
    accept: () => ({ seq: 1 }) as never,
  } as unknown as IngestDeps & { accept: never }
  return { w: new AccountWriter(deps), counts, asked, accounts }
}

describe('account writer: slots', () => {
  it('where this thread counts, a full host throttles a new account at once (no promise)', () => {
    const slots = { count: 0 }
    const { w, asked } = writer(undefined, { slots })
    const fresh = w.fresh(DID, 1, 0)
    assert.equal(fresh.localStatus, 'active', 'a slot was free then')
    slots.count = 1 // another new account took it meanwhile
    const admitted = w.admit(fresh)
    assert.ok(!(admitted instanceof Promise))
    assert.equal(admitted.localStatus, 'throttled')
    assert.equal(w.fresh(DID, 1, 0).localStatus, 'throttled')
    assert.deepEqual(asked, [])
  })

  it('a slot is asked for right before the store; a granted one is not asked early', async () => {
    const { w, asked, counts } = writer(async () => true)
    const fresh = w.fresh(DID, 1, 0)
    assert.equal(fresh.localStatus, 'active', 'not decided yet')
    assert.deepEqual(asked, [], 'nothing asked before the event is accepted')
    const admitted = await w.admit(fresh)
    assert.equal(admitted.localStatus, 'active')
    assert.deepEqual(asked, [DID])
    w.save(admitted, 1, admitted)
    assert.deepEqual(counts, [[1, 1, DID]], 'told with its DID (the granted slot is that +1)')
  })

  it('a refused slot throttles the account', async () => {
    const { w } = writer(async () => false)
    assert.equal((await w.admit(w.fresh(DID, 1, 0))).localStatus, 'throttled')
  })

  it('a new account that takes no slot is told of with 0 (a granted slot goes back)', async () => {
    const { w, counts } = writer(async () => true)
    const admitted = await w.admit(w.fresh(DID, 1, 0))
    w.save({ ...admitted, upstreamStatus: 'deleted' }, 1, admitted)
    assert.deepEqual(counts, [[1, 0, DID]])
  })

  it('a new account admitted but not stored after all gives its slot back', async () => {
    const { w, counts } = writer(async () => true)
    await w.admit(w.fresh(DID, 1, 0))
    w.unadmit(DID, 1)
    assert.deepEqual(counts, [[1, 0, DID]])
  })

  it('where this thread counts, giving back a slot is a no-op (nothing was granted ahead)', () => {
    const { w, counts } = writer()
    w.unadmit(DID, 1)
    assert.deepEqual(counts, [])
  })

  it('a move’s +1 names no account: it cannot use up a grant', async () => {
    const { w, counts } = writer(async () => true)
    const admitted = await w.admit(w.fresh(DID, 1, 0))
    w.save(admitted, 1, admitted)
    w.save({ ...admitted, hostId: 2 }, 2, admitted)
    assert.deepEqual(counts, [
      [1, 1, DID],
      [1, -1, undefined],
      [2, 1, undefined],
    ])
  })

  it('a known account the cache dropped between its read and its store is not counted as new', async () => {
    const known = newAccount(DID, 1, 0)
    const { w, counts, accounts } = writer(async () => true, {
      stored: [known, newAccount(OTHER, 1, 0)],
      maxEntries: 1,
    })
    const read = await accounts.get(DID)
    await accounts.get(OTHER) // the cache holds one: DID's clean entry goes
    assert.equal(accounts.peek(DID), undefined)
    assert.ok(read && !w.isNew(read))
    assert.equal(await w.admit(read), read, 'no slot asked for a known account')
    w.apply(read, { kind: 'identity', hostId: 1, handle: 'a.test' }, 1)
    assert.deepEqual(counts, [], 'it held its slot already')
  })
})

describe('account writer: a stored account taking a slot again (released, back from deleted)', () => {
  const throttled: AccountState = { ...newAccount(DID, 1, 0), localStatus: 'throttled' }

  it('where this thread counts, a full host keeps it throttled', async () => {
    const { w, counts, accounts } = writer(undefined, { stored: [throttled] })
    assert.equal(await w.release(DID), undefined)
    assert.equal((await accounts.get(DID))?.localStatus, 'throttled')
    assert.deepEqual(counts, [])
  })

  it('where this thread counts, a free slot releases it, counted once', async () => {
    const { w, counts } = writer(undefined, { stored: [throttled], slots: { count: 0 } })
    assert.equal((await w.release(DID))?.localStatus, 'desynchronized')
    assert.deepEqual(counts, [[1, 1, DID]])
  })

  it('where a slot is asked for, a granted one is that +1 (named, so not counted again)', async () => {
    const { w, counts, asked } = writer(async () => true, { stored: [throttled] })
    assert.equal((await w.release(DID))?.localStatus, 'desynchronized')
    assert.deepEqual(asked, [DID])
    assert.deepEqual(counts, [[1, 1, DID]])
  })

  it('a refused slot keeps it throttled', async () => {
    const { w, counts, accounts } = writer(async () => false, { stored: [throttled] })
    assert.equal(await w.release(DID), undefined)
    assert.equal((await accounts.get(DID))?.localStatus, 'throttled')
    assert.deepEqual(counts, [])
  })

  it('an account deleted upstream is released without a slot (it takes none)', async () => {
    const deleted: AccountState = { ...throttled, upstreamStatus: 'deleted' }
    const { w, counts, asked } = writer(async () => false, { stored: [deleted] })
    assert.equal((await w.release(DID))?.localStatus, 'desynchronized')
    assert.deepEqual(asked, [])
    assert.deepEqual(counts, [])
  })

  it('an account not throttled is not released', async () => {
    const { w } = writer(async () => true, { stored: [{ ...throttled, localStatus: 'active' }] })
    assert.equal(await w.release(DID), undefined)
  })

  it('an account deleted upstream that comes back must claim a slot', async () => {
    const deleted: AccountState = { ...newAccount(DID, 1, 0), upstreamStatus: 'deleted' }
    const back: AccountState = { ...deleted, upstreamStatus: 'active' }
    const full = writer(undefined)
    assert.equal(full.w.claim(deleted, back, 1), false, 'this thread: the host is full')
    const free = writer(undefined, { slots: { count: 0 } })
    assert.equal(free.w.claim(deleted, back, 1), true)
    free.w.save(back, 1, deleted)
    assert.deepEqual(free.counts, [[1, 1, DID]])
    const asked = writer(async () => true)
    assert.equal(await asked.w.claim(deleted, back, 1), true)
    assert.deepEqual(asked.asked, [DID])
    assert.equal(await writer(async () => false).w.claim(deleted, back, 1), false)
  })

  it('changes that take no new slot on the host claim none', () => {
    const { w, asked } = writer(async () => false)
    const active = newAccount(DID, 1, 0)
    const deleted: AccountState = { ...active, upstreamStatus: 'deleted' }
    assert.equal(w.claim(active, { ...active, handle: 'a.test' }, 1), true, 'holds one already')
    assert.equal(w.claim(active, deleted, 1), true, 'gives one up')
    assert.equal(w.claim(deleted, { ...active, hostId: 2 }, 2), true, 'a move')
    assert.equal(w.claim(w.fresh(DID, 1, 0), active, 1), true, 'new: admitted instead')
    assert.equal(w.claim(deleted, active, 2), true, 'an event from the host it moves to')
    const takenDown: AccountState = { ...deleted, localStatus: 'takendown' }
    assert.equal(
      w.claim(takenDown, { ...takenDown, upstreamStatus: 'active' }, 1),
      true,
      'a takedown holds, whatever the limit',
    )
    assert.deepEqual(asked, [])
  })
})
