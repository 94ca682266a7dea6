// What the account and identity caches can grow to, against the heap V8 may use. Both caches are
// bounded by entry count (--account-cache-size, --identity-cache-size, a million each by
// default), and a full one holds ~440 bytes per entry (BENCHMARKS.md, measured with a million
// of each). V8's heap limit is a quarter of the machine's memory unless --max-old-space-size
// says otherwise, so on a small machine the defaults can outgrow it: the relay would then die
// of heap exhaustion some hours in, once enough distinct accounts have been seen. Pure: the
// caller passes the sizes and the limit and logs what comes back.

/** Heap bytes one cached account state takes (AccountCache). */
export const ACCOUNT_STATE_BYTES = 440
/** Heap bytes one cached identity takes (the identity cache). */
export const IDENTITY_BYTES = 440
/** The share of the heap limit the two caches may take before start-up warns. */
const WARN_SHARE = 0.5

export interface CacheMemory {
  readonly accountCacheSize: number
  readonly identityCacheSize: number
  /** V8's heap limit in bytes (`v8.getHeapStatistics().heap_size_limit`). */
  readonly heapLimitBytes: number
}

/** Heap bytes both caches hold when full. */
export function fullCachesBytes(c: CacheMemory): number {
  return c.accountCacheSize * ACCOUNT_STATE_BYTES + c.identityCacheSize * IDENTITY_BYTES
}

/** A warning when the full caches would take more than half the heap limit, else null. */
export function cacheMemoryWarning(c: CacheMemory): string | null {
  const full = fullCachesBytes(c)
  if (full <= c.heapLimitBytes * WARN_SHARE) return null
  const mb = (b: number) => Math.round(b / 2 ** 20).toLocaleString('en-US')
  return (
    `the account and identity caches can grow to ~${mb(full)} MB of heap, more than half of ` +
    `V8's ${mb(c.heapLimitBytes)} MB limit: lower --account-cache-size and ` +
    '--identity-cache-size, or raise the limit (NODE_OPTIONS=--max-old-space-size=MB)'
  )
}
