// A new account's slot where the count belongs to another thread (account shards: askSlot): the
// slot is asked for right before the account is stored, and a granted one is not counted twice;
// a new account that ends up taking no slot (a PDS announcing it deleted) gives the granted slot
// back, as does one admitted but then not stored; a refused one is throttled; only a first store
// names the account (so a later move cannot use a grant up). Where this thread counts, the answer
// needs no await.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { AccountCache } from '../accounts/account-cache.ts'
import { newAccount } from '../accounts/account-state.ts'
import { mapPersistence } from '../accounts/testing.ts'
import { AccountWriter } from './account-writer.ts'
import type { IngestDeps } from './types.ts'

const DID = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'

function writer(askSlot?: (hostId: number, did: string) => Promise<boolean>) {
  const counts: [number, number, string | undefined][] = []
  const asked: string[] = []
  const deps = {
    accounts: new AccountCache(mapPersistence(new Map()), { maxEntries: 100 }),
    hosts: {
      ingestView: () => undefined,
      commitAccepted: () => {},
      accountSlots: () => ({ count: 1, limit: 1 }),
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
  return { w: new AccountWriter(deps), counts, asked }
}

describe('account writer: slots', () => {
  it('where this thread counts, a full host throttles a new account at once (no promise)', () => {
    const { w, asked } = writer()
    const admitted = w.admit(newAccount(DID, 1, 0))
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
    w.save(admitted, 1)
    assert.deepEqual(counts, [[1, 1, DID]], 'told with its DID (the granted slot is that +1)')
  })

  it('a refused slot throttles the account', async () => {
    const { w } = writer(async () => false)
    assert.equal((await w.admit(w.fresh(DID, 1, 0))).localStatus, 'throttled')
  })

  it('a new account that takes no slot is told of with 0 (a granted slot goes back)', async () => {
    const { w, counts } = writer(async () => true)
    const admitted = await w.admit(w.fresh(DID, 1, 0))
    w.save({ ...admitted, upstreamStatus: 'deleted' }, 1)
    assert.deepEqual(counts, [[1, 0, DID]])
  })

  it('a new account admitted but not stored after all gives its slot back', async () => {
    const { w, counts } = writer(async () => true)
    const admitted = await w.admit(w.fresh(DID, 1, 0))
    w.unadmit(admitted)
    assert.deepEqual(counts, [[1, 0, DID]])
  })

  it('only a first store carries the DID: a later move cannot use up a grant', async () => {
    const { w, counts } = writer(async () => true)
    const admitted = await w.admit(w.fresh(DID, 1, 0))
    w.save(admitted, 1)
    w.save({ ...admitted, hostId: 2 }, 2)
    assert.deepEqual(counts, [
      [1, 1, DID],
      [1, -1, undefined],
      [2, 1, undefined],
    ])
  })
})
