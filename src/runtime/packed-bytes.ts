// Several views' bytes copied one after another into one new buffer of their own, each handed
// back as a view into it: what crosses to another thread as one transferred buffer rather than
// one per view (each costs both threads ~1.5 µs: BENCHMARKS.md, session 24), and never detaches
// the buffers the views came from. Used for the verify pool's tasks and replies
// (ingest/verify-messages.ts) and an account shard's appended frames (shards/append-frames.ts).
// Deliberately not here: deciding what to pack, or sizing (the caller sums the lengths first).

export class PackedBytes {
  /** The packed buffer: transfer `bytes.buffer` once every view has been added. */
  readonly bytes: Uint8Array<ArrayBuffer>
  #at = 0

  /** A buffer of exactly `size` bytes (the lengths of the views to come). */
  constructor(size: number) {
    this.bytes = new Uint8Array(size)
  }

  /** `view`'s bytes, copied in after the previous ones, as a view of the packed buffer. */
  add(view: Uint8Array): Uint8Array<ArrayBuffer> {
    const start = this.#at
    this.bytes.set(view, start)
    this.#at = start + view.length
    return this.bytes.subarray(start, this.#at)
  }
}
