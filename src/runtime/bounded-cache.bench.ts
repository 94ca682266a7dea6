// What a use of a cache of a million entries costs, and the longest single use, for BoundedCache
// (an LRU in shards) against the same LRU in one Map (what the account and identity caches
// were). Keys are DID-shaped strings; uses are
// uniform over all entries (the network: most accounts are seen rarely) and skewed (a tenth of
// the accounts make nine tenths of the uses). The longest use is the point: an exact LRU's Map
// fills with deleted slots and V8 rebuilds the whole table, stopping the thread. Nothing here
// asserts on speed.
import { note } from '../../bench/harness.ts'
import { BoundedCache } from './bounded-cache.ts'

const ENTRIES = 1_000_000
const USES = 3_000_000

interface Cache {
  get(key: string): object | undefined
  set(key: string, value: object): void
}

/** The LRU in one Map, for comparison only. */
class MapLru implements Cache {
  readonly #map = new Map<string, object>()
  readonly limit: number
  constructor(limit: number) {
    this.limit = limit
  }
  get(key: string): object | undefined {
    const v = this.#map.get(key)
    if (v !== undefined) {
      this.#map.delete(key)
      this.#map.set(key, v)
    }
    return v
  }
  set(key: string, value: object): void {
    this.#map.delete(key)
    this.#map.set(key, value)
    if (this.#map.size > this.limit) this.#map.delete(this.#map.keys().next().value!)
  }
}

const keys = Array.from(
  { length: ENTRIES },
  (_, i) => `did:plc:${i.toString(32).padStart(24, 'z')}`,
)

function run(name: string, cache: Cache, pick: () => number): void {
  for (const k of keys) cache.set(k, { k })
  let longest = 0
  let over5ms = 0
  let misses = 0
  const started = performance.now()
  for (let i = 0; i < USES; i++) {
    const key = keys[pick()]!
    const t = performance.now()
    if (cache.get(key) === undefined) {
      misses++
      cache.set(key, { key })
    }
    const took = performance.now() - t
    if (took > longest) longest = took
    if (took > 5) over5ms++
  }
  const each = ((performance.now() - started) * 1000) / USES
  note(
    `${name}: ${each.toFixed(2)} µs per use (with the clock reads), longest ${longest.toFixed(1)} ms, ` +
      `${over5ms} uses over 5 ms, ${((misses / USES) * 100).toFixed(1)}% misses`,
  )
}

const uniform = () => (Math.random() * ENTRIES) | 0
const skewed = () =>
  Math.random() < 0.9 ? (Math.random() * (ENTRIES / 10)) | 0 : (Math.random() * ENTRIES) | 0

note(`${ENTRIES.toLocaleString('en-US')} entries, ${USES.toLocaleString('en-US')} uses each`)
run('one Map, uniform', new MapLru(ENTRIES), uniform)
run('BoundedCache, uniform', new BoundedCache<object>(ENTRIES), uniform)
run('one Map, skewed', new MapLru(ENTRIES), skewed)
run('BoundedCache, skewed', new BoundedCache<object>(ENTRIES), skewed)
