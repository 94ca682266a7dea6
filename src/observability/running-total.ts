// A counter that never goes down, made from per-object counts that come and go: consumers that
// disconnect, host connections that are replaced on resubscribe. At each scrape the caller passes
// every live object's current count; an object that disappeared, was replaced (another owner
// under the same key) or whose count went down has its last seen count carried into a closed
// total. What an object counted after the last scrape before it went away is not seen (an
// undercount bounded by one scrape interval of that object's traffic), never a double count.
// Memory: one entry per live key (entries of vanished keys are folded in and deleted).
// Deliberately not here: Prometheus, labels.

interface Seen {
  owner: unknown
  value: number
}

export class RunningTotal<K> {
  readonly #live = new Map<K, Seen>()
  #closed = 0
  #scrape = new Set<K>()

  /** One scrape: every live key with its owner object and current count. Returns the total. */
  update(entries: Iterable<readonly [key: K, owner: unknown, value: number]>): number {
    const seen = this.#scrape
    seen.clear()
    let live = 0
    for (const [key, owner, value] of entries) {
      const prev = this.#live.get(key)
      if (prev === undefined) {
        this.#live.set(key, { owner, value })
      } else {
        if (prev.owner !== owner || value < prev.value) this.#closed += prev.value
        prev.owner = owner
        prev.value = value
      }
      seen.add(key)
      live += value
    }
    for (const [key, prev] of this.#live) {
      if (seen.has(key)) continue
      this.#closed += prev.value
      this.#live.delete(key)
    }
    return this.#closed + live
  }
}
