// The account shards' identity caches as the rest of the relay sees one cache: admin routes and
// repairs purge, read and resolve through the shard that owns the DID, and the metrics read the
// shards' counters summed. A DID that does not exist fails as it does on the main thread
// (DidNotFoundError), so callers branch the same way.
import { noIdentityCounters } from '../identity/cache.ts'
import { DidNotFoundError } from '../identity/errors.ts'
import type { IdentityOperations } from '../ingest/account-operations.ts'
import type { IdentitySource } from '../observability/metrics-sources.ts'
import type { AccountShards } from './account-shards.ts'
import { ShardCallError } from './shard-call-error.ts'
import type { ShardOps } from './shard-messages.ts'

export type ShardIdentityCounts = ShardOps['identity']

export const NO_IDENTITY_COUNTS: ShardIdentityCounts = {
  ...noIdentityCounters(),
  entries: 0,
  running: 0,
  queued: 0,
}

/**
 * The shards' identity operations (`shards` is read at each call: the composition root builds
 * them after the parts that take these).
 */
export function shardedIdentity(shards: () => AccountShards): IdentityOperations {
  return {
    peek: (did) => shards().peekIdentity(did),
    purge: (did) => shards().purgeIdentity(did),
    resolve: (did) =>
      shards()
        .resolveIdentity(did)
        .catch((err: unknown) => {
          if (err instanceof ShardCallError && err.remoteName === 'DidNotFoundError') {
            throw new DidNotFoundError(did, 'not-found', 404)
          }
          throw err
        }),
  }
}

/**
 * The shards' identity caches summed, as the metrics read one cache: the counters object is
 * live (the metrics keep it and read its fields at each scrape).
 */
export function shardIdentitySource(counts: () => readonly ShardIdentityCounts[]): IdentitySource {
  const total = (key: keyof ShardIdentityCounts) => counts().reduce((n, c) => n + c[key], 0)
  const counters = {} as Record<keyof IdentitySource['counters'], number>
  for (const key of Object.keys(NO_IDENTITY_COUNTS) as (keyof ShardIdentityCounts)[]) {
    Object.defineProperty(counters, key, { enumerable: true, get: () => total(key) })
  }
  return {
    counters,
    gauges: () => ({
      entries: total('entries'),
      running: total('running'),
      queued: total('queued'),
    }),
  }
}
