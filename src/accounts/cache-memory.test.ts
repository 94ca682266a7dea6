import assert from 'node:assert/strict'
import { test } from 'node:test'
import { cacheMemoryWarning, fullCachesBytes } from './cache-memory.ts'

const MB = 2 ** 20

test('start-up warns when the full caches would take more than half the heap limit', () => {
  const defaults = { accountCacheSize: 1_000_000, identityCacheSize: 1_000_000 }
  assert.equal(fullCachesBytes({ ...defaults, heapLimitBytes: 0 }), 880_000_000)
  // A 16 GB machine: V8 allows 4 GB; the defaults fit.
  assert.equal(cacheMemoryWarning({ ...defaults, heapLimitBytes: 4096 * MB }), null)
  // A 2 GB machine: V8 allows 512 MB; ~839 MB of caches would not.
  const warning = cacheMemoryWarning({ ...defaults, heapLimitBytes: 512 * MB })
  assert.match(warning ?? '', /~839 MB of heap, more than half of V8's 512 MB limit/)
  assert.match(warning ?? '', /--account-cache-size/)
  // Smaller caches fit the same machine.
  assert.equal(
    cacheMemoryWarning({
      accountCacheSize: 200_000,
      identityCacheSize: 200_000,
      heapLimitBytes: 512 * MB,
    }),
    null,
  )
})
