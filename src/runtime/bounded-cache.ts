// A small least-recently-used map with a hard entry limit, used to memoise parsed public keys and
// the per-key state the signature backends prepare (KeyObjects, uncompressed points), and the
// mirror's remembered repo heads; it lives here, beside nothing it serves, so that neither
// depends on the other's folder for it. It bounds
// memory by entry count only; it does not weigh entries, expire them by time, or share anything
// between threads (each worker has its own).

export class BoundedCache<K, V> {
  readonly limit: number
  readonly #entries = new Map<K, V>()

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`cache limit must be a positive integer, got ${limit}`)
    }
    this.limit = limit
  }

  get size(): number {
    return this.#entries.size
  }

  /** Returns the cached value and marks it most recently used. */
  get(key: K): V | undefined {
    const value = this.#entries.get(key)
    if (value !== undefined) {
      this.#entries.delete(key)
      this.#entries.set(key, value)
    }
    return value
  }

  /** Stores a value, evicting the least recently used entry when over the limit. */
  set(key: K, value: V): void {
    this.#entries.delete(key)
    this.#entries.set(key, value)
    if (this.#entries.size > this.limit) {
      const oldest = this.#entries.keys().next()
      if (oldest.done !== true) this.#entries.delete(oldest.value)
    }
  }

  delete(key: K): void {
    this.#entries.delete(key)
  }

  clear(): void {
    this.#entries.clear()
  }
}
