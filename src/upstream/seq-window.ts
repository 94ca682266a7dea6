// The upstream seqs of one host that have arrived but whose processing may not be finished, and
// the cursor derived from them: the highest seq such that every seq at or below it that arrived
// is complete. Seqs arrive strictly increasing (the caller checks that) and complete in any
// order (events of different accounts are processed in parallel), so entries sit in a ring
// buffer in seq order; completion finds its entry by binary search and the cursor advances over
// the completed prefix. O(log n) per completion, O(1) amortised per arrival.
// Bound: the ring grows as needed; the caller keeps it bounded by pausing the host when `size`
// is too large (frames stop arriving, completions keep draining it).
// Deliberately not here: persistence of the cursor and any knowledge of sockets.

const INITIAL_CAPACITY = 64

export class SeqWindow {
  #seqs = new Float64Array(INITIAL_CAPACITY) // exact for every seq below 2^53
  #done = new Uint8Array(INITIAL_CAPACITY)
  #head = 0
  #size = 0
  #inFlight = 0
  #cursor: number | null
  #last: number | null

  /** `start`: the cursor already persisted (null: none, start live). */
  constructor(start: number | null) {
    this.#cursor = start
    this.#last = start
  }

  /** Highest seq whose every predecessor that arrived is complete (safe to persist). */
  get cursor(): number | null {
    return this.#cursor
  }

  /** Highest seq that arrived (or the start cursor before any did). */
  get last(): number | null {
    return this.#last
  }

  /** Arrived, not yet complete. */
  get inFlight(): number {
    return this.#inFlight
  }

  /** Entries held: in flight plus completed ones waiting behind an earlier incomplete seq. */
  get size(): number {
    return this.#size
  }

  /** A seq handed out for processing; it stays in flight until `complete(seq)`. */
  deliver(seq: number): void {
    this.#arrive(seq)
    this.#push(seq, 0)
    this.#inFlight++
  }

  /** A seq completed on arrival (dropped, or already processed before a crash). */
  pass(seq: number): void {
    this.#arrive(seq)
    if (this.#size === 0) this.#cursor = seq
    else this.#push(seq, 1)
  }

  /** Marks a delivered seq complete. False if it is not in flight (unknown or already done). */
  complete(seq: number): boolean {
    const i = this.#find(seq)
    if (i < 0) return false
    const mask = this.#seqs.length - 1
    const slot = (this.#head + i) & mask
    if (this.#done[slot] === 1) return false
    this.#done[slot] = 1
    this.#inFlight--
    if (i === 0) {
      while (this.#size > 0 && this.#done[this.#head] === 1) {
        this.#cursor = this.#seqs[this.#head] ?? this.#cursor
        this.#head = (this.#head + 1) & mask
        this.#size--
      }
    }
    return true
  }

  #arrive(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`bad seq ${seq}`)
    if (this.#last !== null && seq <= this.#last) {
      throw new RangeError(`seq ${seq} does not follow ${this.#last}`)
    }
    this.#last = seq
  }

  #push(seq: number, done: 0 | 1): void {
    if (this.#size === this.#seqs.length) this.#grow()
    const slot = (this.#head + this.#size) & (this.#seqs.length - 1)
    this.#seqs[slot] = seq
    this.#done[slot] = done
    this.#size++
  }

  #grow(): void {
    const cap = this.#seqs.length
    const seqs = new Float64Array(cap * 2)
    const done = new Uint8Array(cap * 2)
    for (let i = 0; i < this.#size; i++) {
      const slot = (this.#head + i) & (cap - 1)
      seqs[i] = this.#seqs[slot] ?? 0
      done[i] = this.#done[slot] ?? 0
    }
    this.#seqs = seqs
    this.#done = done
    this.#head = 0
  }

  /** Position (0 = oldest) of `seq` among the entries, or -1. */
  #find(seq: number): number {
    const mask = this.#seqs.length - 1
    let lo = 0
    let hi = this.#size - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      const v = this.#seqs[(this.#head + mid) & mask] ?? 0
      if (v === seq) return mid
      if (v < seq) lo = mid + 1
      else hi = mid - 1
    }
    return -1
  }
}
