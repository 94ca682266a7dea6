// Identities kept across restarts: the table's side (what is written, read back, forgotten; a
// failed write kept for the next; the bound on waiting changes) on a real SQLite database, and
// the cache's side with a stand-in store: a DID it holds nothing for is read from the store once,
// with the times of when it was resolved (fresh within the TTL, a fallback past it, ignored past
// max-stale), and what the directory answers, a purge and a not-found reach the store.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { tempDatabase } from '../db/testing.ts'
import { CachingIdentityResolver } from './cache.ts'
import type { Identity } from './did-document.ts'
import { DidNotFoundError, DidResolutionError } from './errors.ts'
import type { IdentityResolver } from './resolver.ts'
import {
  type IdentityMemory,
  type IdentityRows,
  PRUNE_EVERY_MS,
  StoredIdentities,
  type StoredIdentity,
} from './stored-identities.ts'
import { STORE_PAUSE_MS } from './stored-reads.ts'
import { identityRow as row } from './testing/identity-row.ts'

const A = 'did:plc:aaaaaaaaaaaaaaaaaaaaaaaa'
const B = 'did:plc:bbbbbbbbbbbbbbbbbbbbbbbb'
const HOUR = 3_600_000

/** The real table with `gate` run before each operation (to hold it, or to make it fail). */
function gated(
  real: IdentityRows,
  gate: (op: keyof IdentityRows) => void | Promise<void>,
): IdentityRows {
  return {
    get: async (did) => {
      await gate('get')
      return real.get(did)
    },
    upsertMany: async (rows) => {
      await gate('upsertMany')
      return real.upsertMany(rows)
    },
    deleteMany: async (dids) => {
      await gate('deleteMany')
      return real.deleteMany(dids)
    },
    deleteResolvedBefore: async (cutoff, limit) => {
      await gate('deleteResolvedBefore')
      return real.deleteResolvedBefore(cutoff, limit)
    },
  }
}

const identity = (did: string, key = 'zQ3shOld'): Identity => ({
  did,
  pds: 'https://pds.example.com',
  handle: 'a.test',
  signingKey: { type: 'Multikey', publicKeyMultibase: key },
})

describe('StoredIdentities on SQLite', () => {
  it('writes what it was told with the checkpoint, and a new start reads it back', async () => {
    await using t = await tempDatabase()
    const stored = new StoredIdentities(t.db.identities)
    stored.remember(identity(A), 1_000)
    stored.remember({ ...identity(B), signingKey: null, pds: null, handle: null }, 2_000)
    assert.deepEqual(await stored.load(A), { identity: identity(A), resolvedAt: 1_000 }, 'waiting')
    assert.equal(await t.db.identities.get(A), undefined, 'nothing written before the flush')
    await stored.flush('paced')
    assert.equal(stored.pending, 0)
    const again = new StoredIdentities(t.db.identities)
    assert.deepEqual(await again.load(A), { identity: identity(A), resolvedAt: 1_000 })
    assert.deepEqual(await again.load(B), {
      identity: { did: B, pds: null, handle: null, signingKey: null },
      resolvedAt: 2_000,
    })
    again.forget(A)
    assert.equal(await again.load(A), undefined, 'forgotten before it is written')
    await again.flush('at-once')
    assert.equal(await t.db.identities.get(A), undefined)
    assert.equal(await new StoredIdentities(t.db.identities).load(A), undefined)
  })

  it('a failed write keeps the changes for the next, unless a newer one came; a failed read rejects', async () => {
    await using t = await tempDatabase()
    let fail = true
    const rows = gated(t.db.identities, (op) => {
      if (fail && (op === 'get' || op === 'upsertMany')) throw new Error('database away')
    })
    const stored = new StoredIdentities(rows)
    stored.remember(identity(A), 1_000)
    stored.remember(identity(B), 1_000)
    await assert.rejects(stored.flush('paced'), /database away/)
    await assert.rejects(stored.load('did:plc:cccccccccccccccccccccccc'), /database away/)
    stored.remember(identity(B, 'zQ3shNew'), 5_000)
    fail = false
    await stored.flush('paced')
    assert.equal((await t.db.identities.get(A))?.resolved_at, 1_000)
    assert.equal((await t.db.identities.get(B))?.key, 'zQ3shNew', 'the newer change won')
  })

  it('a flush that fails while changes come keeps them all, the newer winning, forgets before identities', async () => {
    await using t = await tempDatabase()
    const C = 'did:plc:cccccccccccccccccccccccc'
    let release!: () => void
    const held = new Promise<void>((r) => {
      release = r
    })
    let fail = true
    const rows = gated(t.db.identities, async (op) => {
      if (op !== 'upsertMany') return
      await held
      if (fail) throw new Error('database away')
    })
    const stored = new StoredIdentities(rows)
    stored.remember(identity(A), 1)
    stored.remember(identity(B), 1)
    stored.forget(C)
    const flushing = stored.flush('paced')
    await new Promise((r) => setTimeout(r, 10))
    stored.forget(A) // a purge, then A resolved anew
    stored.remember(identity(A, 'zQ3shNewA'), 2)
    stored.remember(identity(B, 'zQ3shNewB'), 2)
    stored.remember(identity(C, 'zQ3shNewC'), 2)
    release()
    await assert.rejects(flushing, /database away/)
    fail = false
    await stored.flush('paced')
    for (const [did, key] of [
      [A, 'zQ3shNewA'],
      [B, 'zQ3shNewB'],
      [C, 'zQ3shNewC'],
    ] as const) {
      assert.equal((await t.db.identities.get(did))?.key, key, did)
    }
  })

  it('an identity remembered and then forgotten is neither read nor written', async () => {
    await using t = await tempDatabase()
    await t.db.identities.upsertMany([row(A)])
    const stored = new StoredIdentities(t.db.identities)
    stored.remember(identity(A, 'zQ3shNew'), 2)
    stored.forget(A)
    assert.equal(await stored.load(A), undefined)
    await stored.flush('paced')
    assert.equal(await t.db.identities.get(A), undefined)
  })

  it('prunes rows too old to be used, in batches, at most once an hour', async () => {
    await using t = await tempDatabase()
    const old = Array.from({ length: 1_200 }, (_, i) => ({
      ...row(`did:plc:old${String(i).padStart(21, '0')}`),
      resolved_at: 1_000,
    }))
    await t.db.identities.upsertMany([...old, { ...row(A), resolved_at: 90_000 }])
    let clock = 100_000
    const stored = new StoredIdentities(t.db.identities, { maxAgeMs: 50_000, now: () => clock })
    assert.equal(await stored.prune('paced'), 1_200, 'three batches')
    assert.notEqual(await t.db.identities.get(A), undefined, 'young enough: kept')
    await t.db.identities.upsertMany([{ ...row(B), resolved_at: 1_000 }])
    clock += PRUNE_EVERY_MS - 1
    assert.equal(await stored.prune('paced'), 0, 'not again within the hour')
    clock += 1
    assert.equal(await stored.prune('at-once'), 2, 'then B, and A now too old')
    assert.equal(await new StoredIdentities(t.db.identities).prune('paced'), 0, 'no age: no prune')
  })

  it('keeps at most maxPending identities waiting, dropping the oldest; a forget outlives them', async () => {
    await using t = await tempDatabase()
    const C = 'did:plc:cccccccccccccccccccccccc'
    const D = 'did:plc:dddddddddddddddddddddddd'
    await t.db.identities.upsertMany([{ ...row(D), resolved_at: 1 }])
    const stored = new StoredIdentities(t.db.identities, { maxPending: 2 })
    stored.forget(D)
    stored.remember(identity(D, 'zQ3shNew'), 2) // D's forget stays, whatever becomes of this
    for (const did of [A, B, C]) stored.remember(identity(did), 1)
    assert.equal(stored.dropped, 2)
    assert.equal(stored.pending, 3, 'two identities and the forget')
    await stored.flush('paced')
    assert.equal(await t.db.identities.get(D), undefined, 'the doubted row deleted')
    assert.equal(await t.db.identities.get(A), undefined, 'the oldest identities dropped')
    assert.notEqual(await t.db.identities.get(C), undefined)
  })

  it('a read while a flush writes sees the changes being written, not the row before them', async () => {
    await using t = await tempDatabase()
    await t.db.identities.upsertMany([row(A), row(B)])
    let release!: () => void
    const held = new Promise<void>((r) => {
      release = r
    })
    const rows = gated(t.db.identities, async (op) => {
      if (op === 'upsertMany' || op === 'deleteMany') await held
    })
    const stored = new StoredIdentities(rows)
    stored.forget(A) // e.g. a purge, then the new identity resolved
    stored.remember(identity(A, 'zQ3shNew'), 5_000)
    stored.forget(B)
    const flushing = stored.flush('paced')
    await new Promise((r) => setTimeout(r, 10)) // the delete held
    assert.equal((await stored.load(A))?.identity.signingKey?.publicKeyMultibase, 'zQ3shNew')
    assert.equal(await stored.load(B), undefined, 'B’s row is being deleted')
    release()
    await flushing
    assert.equal((await stored.load(A))?.resolvedAt, 5_000, 'then from the table')
  })
})

/**
 * A store stand-in: what it holds, and every call made to it; `load` answers what `held` gives
 * (an Error rejects, 'hang' never answers); `dropped` is what it says it dropped.
 */
function memory(held: Record<string, StoredIdentity | Error | 'hang'> = {}, dropped = 0) {
  const calls: string[] = []
  const store: IdentityMemory = {
    load: async (did) => {
      calls.push(`load ${did}`)
      await new Promise((r) => setImmediate(r))
      const h = held[did]
      if (h === 'hang') return new Promise(() => {})
      if (h instanceof Error) throw h
      return h
    },
    remember: (id, at) => {
      calls.push(`remember ${id.did} ${at}`)
    },
    forget: (did) => {
      calls.push(`forget ${did}`)
    },
    dropped,
  }
  return { store, calls }
}

/** A directory stand-in answering from `answers` (an Error is thrown), counting its lookups. */
function directory(answers: Record<string, Identity | Error>) {
  const asked: string[] = []
  const resolver: IdentityResolver = {
    resolve: async (did) => {
      asked.push(did)
      const a = answers[did]
      if (a === undefined) throw new DidNotFoundError(did, 'not-found', 404)
      if (a instanceof Error) throw a
      return a
    },
  }
  return { resolver, asked }
}

describe('CachingIdentityResolver with stored identities', () => {
  const NOW = 10 * HOUR
  let clock = NOW
  const make = (
    held: Parameters<typeof memory>[0],
    answers: Record<string, Identity | Error>,
    dropped = 0,
  ) => {
    clock = NOW
    const m = memory(held, dropped)
    const d = directory(answers)
    const cache = new CachingIdentityResolver(d.resolver, {
      now: () => clock,
      ttlMs: HOUR,
      maxStaleMs: 24 * HOUR,
      stored: m.store,
    })
    return { cache, calls: m.calls, asked: d.asked }
  }

  it('a stored identity resolved within the TTL is used as fresh: one read, no lookup', async () => {
    const { cache, calls, asked } = make(
      { [A]: { identity: identity(A), resolvedAt: NOW - 1000 } },
      {},
    )
    const [one, two] = await Promise.all([cache.resolve(A), cache.resolve(A)])
    assert.deepEqual(one, { identity: identity(A), stale: false })
    assert.deepEqual(two, one)
    assert.deepEqual(calls, [`load ${A}`], 'read once for both')
    assert.deepEqual(asked, [])
    assert.equal(cache.counters.loaded, 1)
    assert.deepEqual(cache.peek(A), identity(A), 'then in the cache')
  })

  it('one past its TTL is refreshed, and the answer told to the store', async () => {
    const fresh = identity(A, 'zQ3shNew')
    const { cache, calls, asked } = make(
      { [A]: { identity: identity(A), resolvedAt: NOW - 2 * HOUR } },
      { [A]: fresh },
    )
    assert.deepEqual(await cache.resolve(A), { identity: fresh, stale: false })
    assert.deepEqual(asked, [A])
    assert.deepEqual(calls, [`load ${A}`, `remember ${A} ${NOW}`])
  })

  it('one past its TTL is the fallback while the directory fails (a restart during an outage)', async () => {
    const down = new DidResolutionError(A, 'network', 'unreachable')
    const { cache } = make(
      { [A]: { identity: identity(A), resolvedAt: NOW - 2 * HOUR } },
      { [A]: down },
    )
    assert.deepEqual(await cache.resolve(A), { identity: identity(A), stale: true })
  })

  it('one past max-stale is not used', async () => {
    const down = new DidResolutionError(A, 'network', 'unreachable')
    const { cache } = make(
      { [A]: { identity: identity(A), resolvedAt: NOW - 26 * HOUR } },
      { [A]: down },
    )
    await assert.rejects(cache.resolve(A), DidResolutionError)
    assert.equal(cache.counters.loaded, 0)
  })

  it('a purge while the stored identity is being read voids that read', async () => {
    const fresh = identity(A, 'zQ3shNew')
    const { cache, asked } = make(
      { [A]: { identity: identity(A), resolvedAt: NOW - 1000 } },
      { [A]: fresh },
    )
    const first = cache.resolve(A)
    cache.purge(A) // e.g. the host's #identity, while the read is under way
    assert.deepEqual(await first, { identity: fresh, stale: false }, 'asked the directory')
    assert.equal(cache.counters.loaded, 0, 'the old identity was not taken')
    assert.deepEqual(asked, [A])
  })

  it('a DID the store does not hold is resolved and remembered; a purge forgets; a not-found forgets what the cache held', async () => {
    const { cache, calls } = make({}, { [A]: identity(A) })
    await cache.resolve(A)
    cache.purge(A)
    await assert.rejects(cache.resolve(B), DidNotFoundError)
    assert.deepEqual(
      calls,
      [`load ${A}`, `remember ${A} ${NOW}`, `forget ${A}`, `load ${B}`],
      'B was never held: no row to forget',
    )
    const held = make({ [A]: { identity: identity(A), resolvedAt: NOW - 2 * HOUR } }, {})
    await assert.rejects(held.cache.resolve(A), DidNotFoundError)
    assert.deepEqual(held.calls, [`load ${A}`, `forget ${A}`], 'A was: its row goes')
  })

  it('a purge of a DID the cache evicted forgets its row, and the resolve after it asks the directory', async () => {
    const stored = new StoredIdentities({
      get: async () => ({ ...row(A), resolved_at: NOW - 1000 }),
      upsertMany: async () => {},
      deleteMany: async () => {},
      deleteResolvedBefore: async () => 0,
    })
    const d = directory({ [A]: identity(A, 'zQ3shNew') })
    const cache = new CachingIdentityResolver(d.resolver, { now: () => NOW, ttlMs: HOUR, stored })
    cache.purge(A) // nothing cached: as after an eviction
    assert.equal((await cache.resolve(A)).identity.signingKey?.publicKeyMultibase, 'zQ3shNew')
    assert.deepEqual(d.asked, [A])
  })

  it('a row stamped ahead of the clock is only a fallback: refreshed at once, kept while the directory fails', async () => {
    const ahead = { [A]: { identity: identity(A), resolvedAt: NOW + 240 * HOUR } }
    const up = make(ahead, { [A]: identity(A, 'zQ3shNew') })
    assert.equal((await up.cache.resolve(A)).identity.signingKey?.publicKeyMultibase, 'zQ3shNew')
    const down = make(ahead, { [A]: new DidResolutionError(A, 'network', 'unreachable') })
    assert.deepEqual(await down.cache.resolve(A), { identity: identity(A), stale: true })
  })

  it('a read that fails or hangs is a miss, counted; the table is left alone a while after', async () => {
    const C = 'did:plc:cccccccccccccccccccccccc'
    const { cache, asked, calls } = make(
      { [A]: new Error('database away'), [B]: 'hang', [C]: 'hang' },
      { [A]: identity(A), [B]: identity(B), [C]: identity(C) },
    )
    assert.equal((await cache.resolve(A)).identity.did, A)
    assert.equal(cache.counters.storeFailures, 1)
    assert.equal((await cache.resolve(B)).identity.did, B, 'not read: the table is left alone')
    clock += STORE_PAUSE_MS
    const started = performance.now()
    assert.equal((await cache.resolve(C)).identity.did, C)
    assert.ok(performance.now() - started < 3_000, 'a hanging read ends after a second')
    assert.deepEqual(asked, [A, B, C])
    assert.deepEqual(
      calls.filter((c) => c.startsWith('load')),
      [`load ${A}`, `load ${C}`],
    )
    assert.equal(cache.counters.storeFailures, 2)
  })

  it('a not-found after a failed read forgets the row that may be there', async () => {
    const { cache, calls } = make({ [A]: new Error('database away') }, {})
    await assert.rejects(cache.resolve(A), DidNotFoundError)
    assert.deepEqual(calls, [`load ${A}`, `forget ${A}`])
  })

  it('counts what the store dropped for its bound', () => {
    const { cache } = make({}, {}, 2)
    assert.equal(cache.counters.storeDropped, 2)
    assert.equal({ ...cache.counters }.storeDropped, 2, 'a copy of the counters has it too')
  })
})
