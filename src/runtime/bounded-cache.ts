// A least-recently-used map with an entry limit: the relay's account states and identities (up
// to a million each), the workers' parsed public keys, the mirror's remembered repo heads. It
// lives here, beside nothing it serves, so that none depends on another's folder for it.
// How: a Map per shard, kept in order of use (a use moves the key to the end with a delete and a
// set; the first key is the least recently used). A large cache is split into shards of at most
// SHARD_ENTRIES by a hash of the key, because V8 rebuilds a Map's whole table once its deleted
// slots fill it: one Map of a million entries stopped the thread for 100–200 ms every million
// uses (`bounded-cache.bench.ts`), a shard of 16,384 for a few milliseconds. Each shard evicts its
// own least recently used key, so the order is exact within a shard and close to it overall
// (keys are spread evenly), and a full cache holds a little under its limit (the fullest shards
// evict first: 99.6% of a million); a small cache is one shard, an exact LRU.
// Deliberately not here: weighing entries, expiring them by time, sharing between threads
// (each worker has its own), keys other than strings. Values must not be undefined (a miss
// reads as undefined).

/** The most entries a shard is given (the table V8 may rebuild at once). */
export const SHARD_ENTRIES = 16_384

export class BoundedCache<V extends NonNullable<unknown>> {
  readonly limit: number
  readonly #shards: Map<string, V>[]
  readonly #perShard: number
  /** Shard count minus one (a power of two). */
  readonly #mask: number
  #evictions = 0

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`cache limit must be a positive integer, got ${limit}`)
    }
    this.limit = limit
    let shards = 1
    while (limit / shards > SHARD_ENTRIES) shards *= 2
    this.#shards = Array.from({ length: shards }, () => new Map<string, V>())
    this.#perShard = Math.ceil(limit / shards)
    this.#mask = shards - 1
  }

  get size(): number {
    let n = 0
    for (const shard of this.#shards) n += shard.size
    return n
  }

  /** Entries evicted so far to stay within the limit. */
  get evictions(): number {
    return this.#evictions
  }

  /** The cached value, marked as the most recently used. */
  get(key: string): V | undefined {
    const shard = this.#shardOf(key)
    const value = shard.get(key)
    if (value !== undefined) {
      shard.delete(key)
      shard.set(key, value)
    }
    return value
  }

  /** The cached value, its place in the order unchanged. */
  peek(key: string): V | undefined {
    return this.#shardOf(key).get(key)
  }

  /** Stores a value as the most recently used; a full shard evicts its least recently used. */
  set(key: string, value: V): void {
    const shard = this.#shardOf(key)
    shard.delete(key)
    shard.set(key, value)
    if (shard.size > this.#perShard) {
      const oldest = shard.keys().next()
      if (oldest.done !== true) {
        shard.delete(oldest.value)
        this.#evictions++
      }
    }
  }

  delete(key: string): void {
    this.#shardOf(key).delete(key)
  }

  clear(): void {
    for (const shard of this.#shards) shard.clear()
  }

  #shardOf(key: string): Map<string, V> {
    if (this.#mask === 0) return this.#shards[0]!
    // FNV-1a over the key's last 16 code units: DIDs and public keys differ there (a did:plc's
    // are random, a did:web's its domain's), and hashing all of a long key costs a use more.
    let h = 0x811c9dc5
    for (let i = Math.max(0, key.length - 16); i < key.length; i++) {
      h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
    }
    // The multiplications carry each character into the high bits only: fold them down.
    return this.#shards[(h ^ (h >>> 16)) & this.#mask]!
  }
}
