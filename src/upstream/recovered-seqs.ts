// Seqs of one host that were accepted before a crash but lie above its persisted cursor (the
// event log knows them, the cursor table did not catch up). When the host sends them again they
// are completed silently instead of being delivered twice. Seqs arrive increasing, so a sorted
// list and a moving index answer each lookup in amortised O(1).
// Deliberately not here: where the seqs come from (the event log's recovery).

export class RecoveredSeqs {
  readonly #seqs: readonly number[]
  #at = 0

  constructor(seqs: Iterable<number>, startCursor: number | null) {
    const above = startCursor ?? -1
    this.#seqs = [...seqs].filter((s) => s > above).sort((a, b) => a - b)
  }

  /** Whether `seq` is one of them; each matches once. Call with increasing seqs. */
  take(seq: number): boolean {
    const seqs = this.#seqs
    while (this.#at < seqs.length && (seqs[this.#at] ?? 0) < seq) this.#at++
    if (seqs[this.#at] !== seq) return false
    this.#at++
    return true
  }
}
