// A bounded, coalescing, concurrency-limited cache in front of any IdentityResolver.
//
// What it guarantees:
// - Positive answers are fresh for `ttlMs`; DidNotFoundError is cached for `negativeTtlMs` and
//   rethrown (the same instance) while cached. Other errors are never cached.
// - At most `maxEntries` DIDs are kept; the least recently used one is evicted first (a Map in
//   insertion order; a hit moves the DID to the end).
// - Concurrent resolves of one DID share one upstream lookup ("coalesced"); the scheduling
//   (coalescing, concurrency, queue, cancellation) lives in lookup-scheduler.ts.
// - Upstream concurrency: at most `maxConcurrent` lookups run at once. Further new lookups wait
//   in a FIFO queue of at most `maxQueue`. When the queue is full, a new lookup is refused with
//   IdentityBusyError at once (nothing is sent upstream), unless a stale value is available, which
//   is served instead (marked stale). Joining a lookup already queued or running is always
//   allowed: it adds no upstream work.
// - Stale-if-error: when refreshing an expired entry fails with anything but DidNotFoundError,
//   the previous identity is returned with `stale: true`, as long as it expired less than
//   `maxStaleMs` ago; for `errorRetryMs` after such a failure, resolves answer stale without
//   asking upstream again (a failing directory is not hammered by a busy account).
// - purge(did) makes the next resolve go upstream. A lookup already running when the purge
//   happens still answers its own waiters but is never cached (its answer may predate the change
//   that caused the purge); a lookup still queued has not asked anything yet and is kept.
//   The purged identity is kept as a stale-if-error fallback unless `dropStale` is passed.
// - A caller whose signal aborts gets DidResolutionError 'aborted'; when every waiter of a lookup
//   has aborted, the lookup is dequeued or its upstream request aborted.
//
// - With `stored` (stored-identities.ts, read through stored-reads.ts): a DID the cache holds
//   nothing for is first looked up there, and taken with the times of when it was resolved: fresh
//   until its TTL from then, a fallback until max-stale after that (one stamped ahead of the
//   clock only a fallback); what the directory answers is told to it; a purge always makes it
//   forget the row (and voids a read under way), a "not found" where a row may exist.
//
// resolve() returns `{ identity, stale }`; peek() returns the Identity only while fresh and does
// no I/O and no promise allocation (the ingest hot path). Counters are a live plain object.
// Deliberately not here: deciding what a stale or missing identity means for an event (ingest),
// rate-limiting purges per host (ingest), writing the stored identities (stored-identities.ts).

import { BoundedCache } from '../runtime/bounded-cache.ts'
import type { Identity } from './did-document.ts'
import { DidNotFoundError, DidResolutionError, IdentityBusyError } from './errors.ts'
import { LookupScheduler, type Outcome } from './lookup-scheduler.ts'
import type { IdentityResolver } from './resolver.ts'
import type { IdentityMemory, StoredIdentity } from './stored-identities.ts'
import { StoredReads } from './stored-reads.ts'

export interface CachedIdentity {
  readonly identity: Identity
  /** True when served past its TTL because the refresh failed or the resolver was busy. */
  readonly stale: boolean
}

export interface IdentityCacheCounters {
  /** Answered from a fresh cached identity (resolve or peek). */
  hits: number
  /** Answered from a cached DidNotFoundError. */
  negativeHits: number
  /** Started an upstream lookup. */
  misses: number
  /** Joined an upstream lookup already queued or running. */
  coalesced: number
  /** Answered with a stale identity. */
  staleServed: number
  /** Upstream lookups that failed with anything but DidNotFoundError. */
  errors: number
  /** Upstream lookups that answered DidNotFoundError. */
  notFound: number
  /** New lookups refused or served stale because the wait queue was full. */
  busy: number
  /** Entries evicted to stay within maxEntries. */
  evictions: number
  /** Identities taken from the stored ones (`stored`), fresh or as a fallback. */
  loaded: number
  /** Reads of the stored identities that failed or took too long (the directory was asked). */
  storeFailures: number
  /** Changes to the stored identities dropped to stay within their bound (a database outage). */
  storeDropped: number
}

export interface CachingIdentityResolverOptions {
  /** Default 100,000. */
  readonly maxEntries?: number
  /** Freshness of a resolved identity. Default 1 h. */
  readonly ttlMs?: number
  /** Freshness of a not-found answer. Default 5 min. */
  readonly negativeTtlMs?: number
  /** How long past its TTL an identity may still be served when refreshing fails. Default 24 h. */
  readonly maxStaleMs?: number
  /** After a failed refresh, serve stale without asking upstream for this long. Default 30 s. */
  readonly errorRetryMs?: number
  /** Upstream lookups running at once. Default 32. */
  readonly maxConcurrent?: number
  /** Lookups waiting for a slot before new ones are refused. Default 1,000. */
  readonly maxQueue?: number
  /** Milliseconds clock; default Date.now. */
  readonly now?: () => number
  /** Identities kept across restarts (see the header). */
  readonly stored?: IdentityMemory
}

// Kept small: a relay holds up to --identity-cache-size of these (BENCHMARKS.md has the bytes).
// The stale answer is made when served (rare), not stored beside the fresh one.
interface PositiveEntry {
  readonly kind: 'positive'
  readonly fresh: CachedIdentity
  freshUntil: number
  readonly staleUntil: number
  /** Until then, a failed refresh is not retried: stale is served. */
  retryAt: number
}

interface NegativeEntry {
  readonly kind: 'negative'
  readonly error: DidNotFoundError
  readonly until: number
}

type Entry = PositiveEntry | NegativeEntry

/** Every counter at zero (a new cache's, or a sum's start). */
export function noIdentityCounters(): IdentityCacheCounters {
  return {
    hits: 0,
    negativeHits: 0,
    misses: 0,
    coalesced: 0,
    staleServed: 0,
    errors: 0,
    notFound: 0,
    busy: 0,
    evictions: 0,
    loaded: 0,
    storeFailures: 0,
    storeDropped: 0,
  }
}

/** How long past its TTL an identity may serve while refreshing fails, unless told otherwise. */
export const DEFAULT_MAX_STALE_MS = 86_400_000

export class CachingIdentityResolver {
  readonly #now: () => number
  readonly #ttlMs: number
  readonly #negativeTtlMs: number
  readonly #maxStaleMs: number
  readonly #errorRetryMs: number
  readonly #entries: BoundedCache<Entry>
  readonly #lookups: LookupScheduler<Identity, CachedIdentity>
  readonly #counters: IdentityCacheCounters = noIdentityCounters()
  readonly #stored: StoredReads | undefined

  constructor(upstream: IdentityResolver, options: CachingIdentityResolverOptions = {}) {
    this.#now = options.now ?? Date.now
    this.#entries = new BoundedCache(count('maxEntries', options.maxEntries, 100_000, 1))
    this.#ttlMs = duration('ttlMs', options.ttlMs, 3_600_000)
    this.#negativeTtlMs = duration('negativeTtlMs', options.negativeTtlMs, 300_000)
    this.#maxStaleMs = duration('maxStaleMs', options.maxStaleMs, DEFAULT_MAX_STALE_MS)
    this.#errorRetryMs = duration('errorRetryMs', options.errorRetryMs, 30_000)
    const stored = options.stored
    this.#stored =
      stored &&
      new StoredReads({
        memory: stored,
        take: (did, found) => this.#seed(did, found),
        countFailure: () => this.#counters.storeFailures++,
        now: this.#now,
      })
    // The store counts what it dropped for its bound, whichever path dropped it.
    if (stored) {
      Object.defineProperty(this.#counters, 'storeDropped', {
        enumerable: true,
        get: () => stored.dropped,
      })
    }
    this.#lookups = new LookupScheduler({
      maxConcurrent: count('maxConcurrent', options.maxConcurrent, 32, 1),
      maxQueue: count('maxQueue', options.maxQueue, 1_000, 0),
      fetch: (did, signal) => upstream.resolve(did, signal),
      settle: (did, outcome, detached) => this.#settle(did, outcome, detached),
      aborted,
    })
  }

  /** Live counters (read them, do not write them). */
  get counters(): Readonly<IdentityCacheCounters> {
    return this.#counters
  }

  /** Current sizes, for gauges. */
  gauges(): { entries: number; running: number; queued: number } {
    const { running, queued } = this.#lookups
    return { entries: this.#entries.size, running, queued }
  }

  /** The cached identity if fresh, else undefined. No I/O, no promise. */
  peek(did: string): Identity | undefined {
    const entry = this.#entries.get(did)
    if (entry === undefined || entry.kind !== 'positive' || entry.freshUntil <= this.#now()) {
      return undefined
    }
    this.#counters.hits++
    return entry.fresh.identity
  }

  /**
   * The identity of `did`, from cache or upstream. Rejects with DidNotFoundError (possibly
   * cached), DidResolutionError (upstream failure with no stale fallback, or 'aborted' when
   * `signal` aborts) or IdentityBusyError (queue full, no stale fallback).
   */
  async resolve(did: string, signal?: AbortSignal): Promise<CachedIdentity> {
    if (signal?.aborted) throw aborted(did, signal)
    let entry = this.#entries.get(did)
    if (entry === undefined && this.#stored !== undefined && !this.#lookups.has(did)) {
      await this.#stored.read(did)
      if (signal?.aborted) throw aborted(did, signal)
      entry = this.#entries.get(did)
    }
    const now = this.#now()
    let fallback: PositiveEntry | undefined
    if (entry?.kind === 'negative') {
      if (now < entry.until) {
        this.#counters.negativeHits++
        throw entry.error
      }
      this.#entries.delete(did)
    } else if (entry !== undefined) {
      if (now < entry.freshUntil) {
        this.#counters.hits++
        return entry.fresh
      }
      if (now < entry.staleUntil) {
        fallback = entry
        if (now < entry.retryAt) {
          this.#counters.staleServed++
          return staleOf(entry)
        }
      } else {
        this.#entries.delete(did)
      }
    }
    if (this.#lookups.has(did)) {
      this.#counters.coalesced++
    } else if (this.#lookups.isFull()) {
      this.#counters.busy++
      if (fallback === undefined) throw new IdentityBusyError(did, this.#lookups.queued)
      this.#counters.staleServed++
      return staleOf(fallback)
    } else {
      this.#counters.misses++
    }
    const result = await this.#lookups.run(did, signal)
    if (result.stale) this.#counters.staleServed++
    return result
  }

  /** Forget `did`'s cached answer: the next resolve goes upstream. See the header for details. */
  purge(did: string, options?: { readonly dropStale?: boolean }): void {
    this.#lookups.detach(did)
    // Always: a row may exist for a DID the cache evicted, and the resolve after a purge must not
    // read it back.
    this.#stored?.forget(did, true)
    const entry = this.#entries.peek(did)
    if (entry === undefined) return
    if (entry.kind === 'positive' && options?.dropStale !== true) {
      entry.freshUntil = Number.NEGATIVE_INFINITY
      entry.retryAt = Number.NEGATIVE_INFINITY
    } else {
      this.#entries.delete(did)
    }
  }

  /** Caches the upstream outcome (unless detached by a purge) and says what waiters get. */
  #settle(did: string, outcome: Outcome<Identity>, detached: boolean): CachedIdentity {
    const now = this.#now()
    if (outcome.ok) {
      const identity = outcome.value
      const fresh: CachedIdentity = { identity, stale: false }
      if (!detached) {
        const freshUntil = now + this.#ttlMs
        this.#store(did, {
          kind: 'positive',
          fresh,
          freshUntil,
          staleUntil: freshUntil + this.#maxStaleMs,
          retryAt: Number.NEGATIVE_INFINITY,
        })
        this.#stored?.remember(identity, now)
      }
      return fresh
    }
    const { error } = outcome
    if (error instanceof DidNotFoundError) {
      this.#counters.notFound++
      if (!detached) {
        this.#stored?.forget(did, this.#entries.peek(did)?.kind === 'positive')
        this.#store(did, { kind: 'negative', error, until: now + this.#negativeTtlMs })
      }
      throw error
    }
    this.#counters.errors++
    const entry = this.#entries.peek(did)
    if (entry?.kind === 'positive' && now < entry.staleUntil) {
      if (!detached) entry.retryAt = now + this.#errorRetryMs
      return now < entry.freshUntil ? entry.fresh : staleOf(entry)
    }
    throw error
  }

  /** Takes a stored identity into the cache while it is within its times (see the header). */
  #seed(did: string, found: StoredIdentity): void {
    // Resolved or purged meanwhile: that is newer.
    if (this.#entries.peek(did) !== undefined || this.#lookups.has(did)) return
    const now = this.#now()
    // A row stamped ahead of the clock (a clock that ran ahead) is due for a refresh at once, and
    // a fallback until max-stale from now: never fresh, never kept alive by being read again.
    const ahead = found.resolvedAt > now
    const freshUntil = ahead ? now : found.resolvedAt + this.#ttlMs
    const staleUntil = freshUntil + this.#maxStaleMs
    if (now >= staleUntil) return
    this.#counters.loaded++
    this.#store(did, {
      kind: 'positive',
      fresh: { identity: found.identity, stale: false },
      freshUntil,
      staleUntil,
      retryAt: Number.NEGATIVE_INFINITY,
    })
  }

  #store(did: string, entry: Entry): void {
    this.#entries.set(did, entry)
    this.#counters.evictions = this.#entries.evictions
  }
}

function aborted(did: string, signal: AbortSignal): DidResolutionError {
  return new DidResolutionError(did, 'aborted', 'aborted by caller', { cause: signal.reason })
}

function count(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`CachingIdentityResolver: ${name} must be an integer >= ${min}`)
  }
  return value
}

function duration(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!(value >= 0)) throw new RangeError(`CachingIdentityResolver: ${name} must be >= 0`)
  return value
}

function staleOf(entry: PositiveEntry): CachedIdentity {
  return { identity: entry.fresh.identity, stale: true }
}
