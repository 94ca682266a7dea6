import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { CachingIdentityResolver, type CachingIdentityResolverOptions } from './cache.ts'
import type { Identity } from './did-document.ts'
import { DidNotFoundError, DidResolutionError, IdentityBusyError } from './errors.ts'
import { DidResolver, type IdentityResolver } from './resolver.ts'
import { type MockPlc, scenarioIdentityToDidDocument, startMockPlc } from './testing/mock-plc.ts'

const UA = 'atproto-relay-test/0.1'
const MINUTE = 60_000
const HOUR = 60 * MINUTE

/** did:plc:aaaa…a0 style DIDs: 24 base32 characters. */
function plcDid(n: number): string {
  const suffix = n.toString(32).replace(/[0-9]/g, (d) => 'abcdefghij'.charAt(Number(d)))
  return `did:plc:${suffix.padStart(24, 'x')}`
}

function docFor(did: string, handle: string, key = 'zQ3shKey'): Record<string, unknown> {
  return scenarioIdentityToDidDocument({
    did,
    alsoKnownAs: [`at://${handle}`],
    services: { atproto_pds: { type: 'AtprotoPersonalDataServer', url: 'https://pds.test.com' } },
    keys: { atproto: { type: 'Multikey', publicKeyMultibase: key } },
  })
}

const DIDS = Array.from({ length: 10 }, (_, i) => plcDid(i + 1))
const UNKNOWN = plcDid(999)

describe('CachingIdentityResolver over a loopback PLC', () => {
  let plc: MockPlc
  let clock = 0
  const now = (): number => clock
  const make = (options: CachingIdentityResolverOptions = {}): CachingIdentityResolver =>
    new CachingIdentityResolver(new DidResolver({ plcUrl: plc.url, userAgent: UA }), {
      now,
      ...options,
    })

  before(async () => {
    plc = await startMockPlc()
  })
  beforeEach(() => {
    clock = 1_000_000
    plc.release()
    for (const [i, did] of DIDS.entries()) plc.setDocument(did, docFor(did, `user${i}.test.com`))
    plc.setDocument(UNKNOWN, null)
  })
  after(() => plc.close())

  it('serves fresh hits without I/O and refetches after the TTL', async () => {
    const cache = make({ ttlMs: HOUR })
    const did = DIDS[0]!
    const base = plc.requestCount(did)
    assert.equal(cache.peek(did), undefined, 'nothing cached yet')
    const first = await cache.resolve(did)
    assert.deepEqual(first, {
      identity: {
        did,
        handle: 'user0.test.com',
        pds: 'https://pds.test.com',
        signingKey: { type: 'Multikey', publicKeyMultibase: 'zQ3shKey' },
      },
      stale: false,
    })
    assert.equal((await cache.resolve(did)).identity, first.identity)
    assert.equal(cache.peek(did), first.identity)
    assert.equal(plc.requestCount(did) - base, 1)
    clock += HOUR - 1
    assert.equal(cache.peek(did), first.identity, 'still fresh just before the TTL')
    clock += 1
    assert.equal(cache.peek(did), undefined, 'expired at the TTL')
    plc.setDocument(did, docFor(did, 'renamed.test.com'))
    const second = await cache.resolve(did)
    assert.equal(second.identity.handle, 'renamed.test.com')
    assert.equal(plc.requestCount(did) - base, 2)
    assert.equal(cache.counters.misses, 2)
    assert.equal(cache.counters.hits, 3)
  })

  it('caches not-found for the negative TTL only', async () => {
    const cache = make({ negativeTtlMs: 5 * MINUTE })
    const base = plc.requestCount(UNKNOWN)
    const first = await cache.resolve(UNKNOWN).catch((err: unknown) => err)
    assert.ok(first instanceof DidNotFoundError)
    await assert.rejects(cache.resolve(UNKNOWN), (err) => err === first)
    assert.equal(cache.peek(UNKNOWN), undefined)
    assert.equal(plc.requestCount(UNKNOWN) - base, 1)
    assert.equal(cache.counters.notFound, 1)
    assert.equal(cache.counters.negativeHits, 1)
    clock += 5 * MINUTE
    plc.setDocument(UNKNOWN, docFor(UNKNOWN, 'late.test.com'))
    assert.equal((await cache.resolve(UNKNOWN)).identity.handle, 'late.test.com')
    assert.equal(plc.requestCount(UNKNOWN) - base, 2)
  })

  it('coalesces concurrent lookups of one DID into one request', async () => {
    const cache = make()
    const did = DIDS[1]!
    const base = plc.requestCount(did)
    plc.hold()
    const pending = Array.from({ length: 20 }, () => cache.resolve(did))
    await plc.whenHeld(1)
    plc.release()
    const results = await Promise.all(pending)
    assert.equal(plc.requestCount(did) - base, 1)
    for (const r of results) assert.equal(r.identity, results[0]?.identity)
    assert.equal(cache.counters.misses, 1)
    assert.equal(cache.counters.coalesced, 19)
  })

  it('limits upstream concurrency with a bounded FIFO queue', async () => {
    const cache = make({ maxConcurrent: 2, maxQueue: 3, ttlMs: MINUTE })
    const stale = DIDS[9]!
    await cache.resolve(stale)
    clock += MINUTE // `stale` is now expired but within max-stale
    const base = plc.requestCount()
    plc.hold()
    const pending = DIDS.slice(0, 5).map((did) => cache.resolve(did))
    await plc.whenHeld(2)
    await sleep(50)
    assert.equal(plc.heldCount(), 2, 'only maxConcurrent requests reach the directory')
    assert.deepEqual(cache.gauges(), { entries: 1, running: 2, queued: 3 })
    await assert.rejects(cache.resolve(DIDS[5]!), (err: unknown) => {
      assert.ok(err instanceof IdentityBusyError)
      assert.equal(err.reason, 'queue-full')
      assert.equal(err.queued, 3)
      return true
    })
    const busyStale = await cache.resolve(stale)
    assert.equal(busyStale.stale, true, 'busy with a stale value: served stale')
    const joined = cache.resolve(DIDS[4]!) // queued already: joining adds no work
    plc.release()
    const results = await Promise.all([...pending, joined])
    assert.deepEqual(
      results.map((r) => r.identity.did),
      [...DIDS.slice(0, 5), DIDS[4]],
    )
    assert.deepEqual(
      plc.requests.slice(base).map((r) => r.did),
      DIDS.slice(0, 5),
      'FIFO order, one request each',
    )
    assert.equal(cache.counters.busy, 2)
    assert.deepEqual(cache.gauges(), { entries: 6, running: 0, queued: 0 })
  })

  it('serves stale on refresh errors within max-stale, not on not-found', async () => {
    const cache = make({ ttlMs: HOUR, maxStaleMs: 6 * HOUR, errorRetryMs: 30_000 })
    const did = DIDS[2]!
    const original = (await cache.resolve(did)).identity
    const base = plc.requestCount(did)
    clock += HOUR
    plc.failNext(503)
    assert.deepEqual(await cache.resolve(did), { identity: original, stale: true })
    assert.equal(plc.requestCount(did) - base, 1)
    assert.deepEqual(await cache.resolve(did), { identity: original, stale: true })
    assert.equal(plc.requestCount(did) - base, 1, 'no retry within errorRetryMs')
    assert.equal(cache.counters.errors, 1)
    assert.equal(cache.counters.staleServed, 2)
    assert.equal(cache.peek(did), undefined, 'peek never returns stale values')
    clock += 30_000
    plc.failNext('garbage')
    assert.equal(
      (await cache.resolve(did)).stale,
      true,
      'retried after errorRetryMs, still failing',
    )
    assert.equal(plc.requestCount(did) - base, 2)
    clock += 30_000
    assert.deepEqual(await cache.resolve(did), { identity: original, stale: false })
    // Beyond max-stale the error surfaces.
    clock += HOUR + 6 * HOUR
    plc.failNext(500)
    await assert.rejects(cache.resolve(did), DidResolutionError)
    // A not-found answer is never masked by a stale value.
    const other = DIDS[3]!
    await cache.resolve(other)
    clock += HOUR
    plc.tombstone(other)
    await assert.rejects(cache.resolve(other), DidNotFoundError)
  })

  it('purge: a lookup running at purge time is not cached', async () => {
    const cache = make()
    const did = DIDS[4]!
    plc.setDocument(did, docFor(did, 'old.test.com'))
    plc.hold()
    const old = cache.resolve(did)
    await plc.whenHeld(1)
    plc.setDocument(did, docFor(did, 'new.test.com'))
    cache.purge(did)
    plc.release()
    assert.equal((await old).identity.handle, 'old.test.com', 'its own waiter still gets it')
    assert.equal(cache.peek(did), undefined, 'but it was not cached')
    assert.equal((await cache.resolve(did)).identity.handle, 'new.test.com')
    assert.equal(cache.peek(did)?.handle, 'new.test.com')
  })

  it('purge: an older lookup finishing after a newer one does not overwrite it', async () => {
    const cache = make()
    const did = DIDS[5]!
    plc.setDocument(did, docFor(did, 'old.test.com'))
    plc.hold()
    const old = cache.resolve(did)
    await plc.whenHeld(1)
    plc.setDocument(did, docFor(did, 'new.test.com'))
    cache.purge(did)
    const fresh = cache.resolve(did)
    await plc.whenHeld(2)
    plc.releaseAt(1) // the newer answer arrives first
    assert.equal((await fresh).identity.handle, 'new.test.com')
    plc.release()
    assert.equal((await old).identity.handle, 'old.test.com')
    assert.equal(cache.peek(did)?.handle, 'new.test.com')
  })

  it('purge keeps a stale fallback unless dropStale', async () => {
    const cache = make()
    const did = DIDS[6]!
    const known = (await cache.resolve(did)).identity
    cache.purge(did)
    assert.equal(cache.peek(did), undefined)
    plc.failNext(500)
    assert.deepEqual(await cache.resolve(did), { identity: known, stale: true })
    cache.purge(did, { dropStale: true })
    plc.failNext(500)
    await assert.rejects(cache.resolve(did), DidResolutionError)
  })

  it('evicts the least recently used entry past maxEntries', async () => {
    const cache = make({ maxEntries: 3 })
    for (const did of DIDS.slice(0, 3)) await cache.resolve(did)
    assert.ok(cache.peek(DIDS[0]!), 'touch the oldest')
    await cache.resolve(DIDS[3]!)
    assert.equal(cache.peek(DIDS[1]!), undefined, 'least recently used evicted')
    for (const did of [DIDS[0]!, DIDS[2]!, DIDS[3]!]) assert.ok(cache.peek(did), did)
    assert.equal(cache.counters.evictions, 1)
    assert.equal(cache.gauges().entries, 3)
  })
})

describe('CachingIdentityResolver aborts', () => {
  interface Call {
    did: string
    signal: AbortSignal | undefined
    settle: (identity: Identity) => void
  }
  function controllable(): { upstream: IdentityResolver; calls: Call[] } {
    const calls: Call[] = []
    const upstream: IdentityResolver = {
      resolve(did, signal) {
        return new Promise<Identity>((resolve, reject) => {
          calls.push({ did, signal, settle: resolve })
          signal?.addEventListener('abort', () => reject(signal.reason))
        })
      },
    }
    return { upstream, calls }
  }
  const identity = (did: string): Identity => ({ did, pds: null, handle: null, signingKey: null })

  it('an aborted waiter is rejected; the last one leaving cancels the lookup', async () => {
    const { upstream, calls } = controllable()
    const cache = new CachingIdentityResolver(upstream, { maxConcurrent: 1, maxQueue: 5 })
    const a = new AbortController()
    const running = cache.resolve('did:plc:a', a.signal)
    const q1 = new AbortController()
    const q2 = new AbortController()
    const queued1 = cache.resolve('did:plc:b', q1.signal)
    const queued2 = cache.resolve('did:plc:b', q2.signal)
    assert.deepEqual(cache.gauges(), { entries: 0, running: 1, queued: 1 })
    q1.abort()
    await assert.rejects(queued1, (err: unknown) => {
      assert.ok(err instanceof DidResolutionError)
      assert.equal(err.reason, 'aborted')
      return true
    })
    assert.equal(cache.gauges().queued, 1, 'another waiter still wants did:plc:b')
    q2.abort()
    await assert.rejects(queued2, DidResolutionError)
    assert.equal(cache.gauges().queued, 0, 'dequeued once nobody waits')
    a.abort()
    await assert.rejects(running, DidResolutionError)
    assert.equal(calls[0]?.signal?.aborted, true, 'upstream request aborted')
    await sleep(0)
    assert.equal(cache.gauges().running, 0)
    assert.equal(calls.length, 1, 'the dequeued lookup never went upstream')
    assert.equal(cache.counters.errors, 0, 'abandoned lookups are not errors')
    await assert.rejects(cache.resolve('did:plc:c', AbortSignal.abort()), DidResolutionError)
  })

  it('a waiter without a signal keeps the lookup alive', async () => {
    const { upstream, calls } = controllable()
    const cache = new CachingIdentityResolver(upstream)
    const c = new AbortController()
    const quitter = cache.resolve('did:plc:a', c.signal)
    const stayer = cache.resolve('did:plc:a')
    c.abort()
    await assert.rejects(quitter, DidResolutionError)
    assert.equal(calls[0]?.signal?.aborted, false)
    calls[0]?.settle(identity('did:plc:a'))
    assert.equal((await stayer).identity.did, 'did:plc:a')
    assert.equal(cache.peek('did:plc:a')?.did, 'did:plc:a')
  })
})
