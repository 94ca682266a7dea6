import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AccountCache, type AccountPersistence } from './account-cache.ts'
import type { AccountState } from './account-state.ts'

const state = (n: number, rev = 'r1'): AccountState => ({
  did: `did:plc:${String(n).padStart(24, 'a')}`,
  hostId: 1,
  upstreamStatus: 'active',
  localStatus: 'active',
  handle: null,
  rev,
  commitCid: null,
  dataCid: null,
  createdAt: 0,
  updatedAt: 0,
})

/** A store in memory that can be told to fail its next save. */
function memoryStore() {
  const rows = new Map<string, AccountState>()
  const saves: { dids: string[]; checkpointSeq: number }[] = []
  let failNext = false
  const store: AccountPersistence = {
    load: async (did) => rows.get(did),
    save: async (states, checkpointSeq) => {
      if (failNext) {
        failNext = false
        throw new Error('disk full')
      }
      for (const s of states) rows.set(s.did, s)
      saves.push({ dids: states.map((s) => s.did), checkpointSeq })
    },
  }
  return { store, rows, saves, failNextSave: () => (failNext = true) }
}

test('a changed state is kept until written, however many others pass through the cache', async () => {
  const m = memoryStore()
  const cache = new AccountCache(m.store, { maxEntries: 10 })
  const first = state(0)
  cache.set(first, 1)
  for (let i = 1; i <= 100; i++) cache.set(state(i), i + 1)
  assert.equal(cache.dirtyCount, 101)
  assert.ok(cache.size <= 10, `${cache.size} cached`)
  assert.equal(cache.peek(first.did), first, 'unwritten, so still answered')
  assert.equal(await cache.get(first.did), first)
  assert.equal(await cache.write(101), 101)
  assert.equal(cache.dirtyCount, 0)
  assert.deepEqual(
    m.saves.map((s) => s.checkpointSeq),
    [101],
  )
  // Written: now the cache may forget it, and a read goes to the store.
  for (let i = 200; i < 240; i++) cache.set(state(i), i)
  assert.equal(cache.peek(first.did), undefined)
  assert.deepEqual(await cache.get(first.did), first)
})

test('a failed write leaves its states to write again, unless they changed since', async () => {
  const m = memoryStore()
  const cache = new AccountCache(m.store, { maxEntries: 4 })
  const a = state(1)
  const b = state(2)
  cache.set(a, 1)
  cache.set(b, 2)
  m.failNextSave()
  const newerA = { ...a, rev: 'r2' }
  await assert.rejects(
    cache.write(2, async () => {
      // Changed while the write was under way.
      cache.set(newerA, 3)
      // And enough others that the cache forgets b in the meantime.
      for (let i = 10; i < 20; i++) cache.set(state(i), i)
    }),
    /disk full/,
  )
  assert.equal(cache.dirtyCount, 12)
  assert.equal(cache.peek(b.did), b, 'forgotten by the cache, still unwritten')
  await cache.write(3)
  assert.deepEqual(m.rows.get(a.did), newerA, 'the newer state is written, not the failed one')
  assert.deepEqual(m.rows.get(b.did), b, 'the forgotten state is written all the same')
})

test('a state loaded while another was set keeps the one set', async () => {
  const m = memoryStore()
  const stored = state(5)
  m.rows.set(stored.did, stored)
  const cache = new AccountCache(m.store, { maxEntries: 4 })
  const loading = cache.get(stored.did)
  const set = { ...stored, rev: 'r9' }
  cache.set(set, 7)
  assert.equal(await loading, set)
  assert.equal(cache.peek(stored.did), set)
})

test('a state being written is read from the snapshot, not from the store, until the write ends', async () => {
  const m = memoryStore()
  const old = state(7, 'r1')
  m.rows.set(old.did, old)
  const cache = new AccountCache(m.store, { maxEntries: 4 })
  const changed = { ...old, rev: 'r2' }
  cache.set(changed, 1)
  // The store answers this save only when told: a paced save spans many turns of the loop.
  let finish!: () => void
  const saving = new Promise<void>((r) => (finish = r))
  const save = m.store.save
  m.store.save = async (states, seq, pace) => {
    await saving
    return save(states, seq, pace)
  }
  const writing = cache.write(1)
  // Enough other accounts that the cache forgets the changed one while it is written.
  for (let i = 100; i < 110; i++) cache.set(state(i), i)
  assert.equal(cache.peek(changed.did), changed)
  assert.equal(await cache.get(changed.did), changed, 'not the stale r1 still in the store')
  for (let i = 200; i < 210; i++) await cache.get(state(i).did)
  finish()
  await writing
  for (let i = 300; i < 310; i++) cache.set(state(i), i)
  assert.equal(cache.peek(changed.did), undefined, 'written: nothing holds it back any more')
  assert.deepEqual(await cache.get(changed.did), changed, 'and the store has it')
})

test('a snapshot given back (a checkpoint that never saved it) is unwritten again, not being written', () => {
  const m = memoryStore()
  const cache = new AccountCache(m.store, { maxEntries: 2 })
  const a = state(1)
  cache.set(a, 1)
  const snapshot = cache.takeSnapshot(1)
  cache.restore(snapshot)
  assert.equal(cache.dirtyCount, 1)
  for (let i = 10; i < 20; i++) cache.set(state(i), i)
  assert.equal(cache.peek(a.did), a)
})
