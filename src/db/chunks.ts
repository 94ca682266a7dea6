// How a list of rows (or keys of an `IN (...)` list) is cut into statements. Every distinct row
// count is a distinct SQL text, and SQLite keeps each distinct text it has run as a prepared
// statement in the connection's statement cache (db/node-sqlite.ts), with the values last bound
// to it. Cut at arbitrary counts (`slice(i, i + 500)` over batches of every size from 1 to 500),
// the cache filled over the first hour with up to 200 multi-row statements and their bound rows:
// native memory the soak saw grow by about 2 MB a minute before it levelled off. Cut into full
// chunks and then powers of two, a store runs at most 1 + log2(max) distinct statements per query
// shape (10 for 500 rows), so the cache stays small whatever the batch sizes are, at the cost of
// a few more statements for an odd remainder (a 300-row batch is 256 + 32 + 8 + 4).
// Deliberately not here: which queries are chunked, or their parameter limits (the stores).

/** The statement sizes for `n` items with at most `max` per statement, largest first. */
export function chunkSizes(n: number, max: number): number[] {
  if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`max must be >= 1, got ${max}`)
  const sizes: number[] = []
  let left = n
  while (left >= max) {
    sizes.push(max)
    left -= max
  }
  for (let p = 2 ** Math.floor(Math.log2(Math.max(1, max))); left > 0; p /= 2) {
    if (left >= p) {
      sizes.push(p)
      left -= p
    }
  }
  return sizes
}

/** `items` cut into consecutive slices of `chunkSizes(items.length, max)`. */
export function* chunks<T>(items: readonly T[], max: number): Generator<T[]> {
  let at = 0
  for (const size of chunkSizes(items.length, max)) {
    yield items.slice(at, at + size)
    at += size
  }
}
