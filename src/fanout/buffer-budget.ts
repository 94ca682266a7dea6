// The bound on what all consumers together may hold in their send buffers. Each consumer has its
// own bound (`ConsumerTooSlow` past it), but with thousands of consumers the sum of those bounds
// is far more memory than a relay has, so the sum is bounded too. The rules:
// - Replays together may hold at most half the budget. A replay waits for room in that half
//   before queueing its next chunk (replay.ts), so replays are never cut for the budget, and a
//   crowd of them (everyone reconnecting after a restart) cannot push live consumers out.
// - After every broadcast, when live consumers, replays and sockets still closing hold more than
//   the budget, closing sockets that still hold bytes are terminated first, largest first (what
//   they hold will never be read), then live consumers are cut, the ones holding the most first,
//   until the total fits. Live consumers therefore always have at least half the budget.
// Pure: takes the buffered amounts as arguments and only chooses; fanout.ts does the closing.
// Deliberately not here: the per-consumer bound (consumer.ts) and how sockets are closed.

export interface HoldsBuffer {
  /** Bytes waiting in its send buffer. */
  readonly buffered: number
}

/** Sum of what every one of `holders` has buffered. */
export function totalBuffered(holders: Iterable<HoldsBuffer>): number {
  let total = 0
  for (const h of holders) total += h.buffered
  return total
}

/**
 * Which of `cuttable` to cut so that `total` (everything buffered, these included) falls to
 * `budget`: the largest buffers first, as few as possible. Empty when `total` is within budget.
 */
export function overBudget<T extends HoldsBuffer>(
  cuttable: Iterable<T>,
  total: number,
  budget: number,
): T[] {
  if (total <= budget) return []
  const byLargest = [...cuttable].filter((c) => c.buffered > 0)
  byLargest.sort((a, b) => b.buffered - a.buffered)
  const cut: T[] = []
  let left = total
  for (const c of byLargest) {
    if (left <= budget) break
    cut.push(c)
    left -= c.buffered
  }
  return cut
}
