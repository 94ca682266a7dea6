// How far behind each account shard is, readable by every shard at once (docs/scaling.md,
// decision 11): a shard that is further behind than another lends it verifications
// (verify-lending.ts). The counts live in one SharedArrayBuffer of 32-bit cells, three per
// shard, 128 bytes apart (so two shards' counters never share a 64-byte cache line, wherever
// the buffer starts, and one shard's writes do not slow the others' reads), each changed with
// `Atomics`:
// - handed: events the main thread has posted to the shard (the main thread adds, per batch);
// - released: what the shard has taken off its port less the work it holds that can run now
//   (the shard stores it, verify-lending.ts says how it counts);
// - borrowed: verifications other shards have lent it and it has not answered (the lender adds
//   one before it posts, the shard takes one off as it answers; the only cell with two
//   writers, which is why it is a counter changed atomically rather than a total one side
//   stores).
// So a shard's backlog is handed − released + borrowed: what waits on its port, what it holds
// that can run, and what it runs for others. The cells wrap at 2³¹; the difference stays right
// across a wrap.
// Also here, pure: which shards may lend to each other (`lendingPeers`).
// Deliberately not here: when to lend (verify-lending.ts), what the main thread hands a shard
// (shard-threads.ts).

/** Cells per shard: handed, released, borrowed, then padding to 128 bytes. */
const CELLS = 32
const HANDED = 0
const RELEASED = 1
const BORROWED = 2

/** Shards a shard may lend to (and borrow from): its nearest by index, half on each side. */
export const MAX_LENDING_PEERS = 8

export class ShardLoads {
  readonly #cells: Int32Array

  constructor(buffer: SharedArrayBuffer) {
    this.#cells = new Int32Array(buffer)
  }

  /** Memory for `count` shards' counts, all zero; shared with every shard at its start. */
  static allocate(count: number): SharedArrayBuffer {
    return new SharedArrayBuffer(count * CELLS * Int32Array.BYTES_PER_ELEMENT)
  }

  /** The main thread posted `n` more events to `shard`. */
  handed(shard: number, n: number): void {
    Atomics.add(this.#cells, shard * CELLS + HANDED, n)
  }

  /** `shard`'s released total (a running total it keeps itself). */
  released(shard: number, total: number): void {
    Atomics.store(this.#cells, shard * CELLS + RELEASED, total)
  }

  /** `delta` verifications lent to `shard` (+1) or answered by it (−1). */
  borrowed(shard: number, delta: number): void {
    Atomics.add(this.#cells, shard * CELLS + BORROWED, delta)
  }

  /** Work waiting at `shard`: events on its port, what it holds that can run, loans to it. */
  backlog(shard: number): number {
    const base = shard * CELLS
    const handed = Atomics.load(this.#cells, base + HANDED)
    const released = Atomics.load(this.#cells, base + RELEASED)
    return ((handed - released) | 0) + Atomics.load(this.#cells, base + BORROWED)
  }
}

/**
 * The pairs of shards that get a channel to lend over: each shard and its nearest
 * `MAX_LENDING_PEERS / 2` on either side by index (wrapping), so every shard of up to nine has
 * all the others, and a shard of many has a bounded number of ports. Each pair once, lower first.
 */
export function lendingPeers(count: number): [number, number][] {
  const pairs = new Map<string, [number, number]>()
  const reach = Math.min(MAX_LENDING_PEERS / 2, Math.floor(count / 2))
  for (let i = 0; i < count; i++) {
    for (let d = 1; d <= reach; d++) {
      const j = (i + d) % count
      const pair: [number, number] = i < j ? [i, j] : [j, i]
      pairs.set(`${pair[0]}:${pair[1]}`, pair)
    }
  }
  return [...pairs.values()]
}
