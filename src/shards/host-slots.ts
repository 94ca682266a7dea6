// A shard's view of its hosts' account slots (docs/scaling.md, decision 2). The hosts part on
// the main thread owns the counts; a shard hears them with the batches that need them, together
// with how much of each count is the shard's own changes the main thread has applied. Between
// two such messages the shard adds its own changes the main thread has not counted yet, so its
// own new accounts never pass a host's limit; another shard's are counted once the main thread's
// next count arrives (shards admitting new accounts of one host at the same moment can pass the
// limit by the accounts admitted meanwhile).
// Deliberately not here: which accounts take a slot (ingest/account-writer.ts).

export class HostSlots {
  readonly #heard = new Map<number, { count: number; limit: number; ownApplied: number }>()
  /** Per host: the sum of the changes this shard has made (told to the main thread or not). */
  readonly #own = new Map<number, number>()

  /** The main thread's count and limit, and how much of the count is this shard's. */
  heard(hostId: number, count: number, limit: number, ownApplied: number): void {
    this.#heard.set(hostId, { count, limit, ownApplied })
  }

  /** This shard changed the host's count (an account took or gave back a slot). */
  changed(hostId: number, delta: number): void {
    this.#own.set(hostId, (this.#own.get(hostId) ?? 0) + delta)
  }

  /** The count as this shard knows it, and the limit; undefined for a host not heard of. */
  slots(hostId: number): { count: number; limit: number } | undefined {
    const h = this.#heard.get(hostId)
    if (!h) return undefined
    return { count: h.count + (this.#own.get(hostId) ?? 0) - h.ownApplied, limit: h.limit }
  }
}
