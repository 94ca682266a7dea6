// How a list of rows, or the keys of an `IN (...)` list, is cut into statements. Every distinct
// row or key count is a distinct SQL text. The SQLite adapter keeps a prepared statement per SQL
// text in an LRU of 200 per connection (db/node-sqlite.ts), and node:sqlite leaves the values
// last bound to a statement in it until its next run. Cut at whatever count a batch had
// (`slice(i, i + 500)` over batches of every size from 1 to 500), that cache filled over the
// first hour with up to 200 multi-row statements and their bound rows: the native memory the soak
// saw grow by about 2 MB a minute before it levelled off. So:
// - rows (multi-row INSERTs) on SQLite go in full chunks and then powers of two, at most
//   1 + ⌈log2(max)⌉ distinct statements per query shape (10 for 500), at the cost of a few more
//   statements for an odd remainder (300 rows are 256 + 32 + 8 + 4). PostgreSQL keeps no
//   statements between queries here, so it gets plain slices: fewer round trips.
// - keys of an `IN (...)` list are padded instead, on both dialects: the last chunk repeats its
//   last key up to the next power of two, which changes no result and keeps one statement.
// Deliberately not here: which queries are chunked, or their parameter limits (the stores).

/** Whether a store's statements should come in few distinct sizes (SQLite's statement cache). */
export type ChunkPolicy = 'few-sizes' | 'plain'

/** The statement sizes for `n` rows with at most `max` per statement, largest first. */
export function chunkSizes(n: number, max: number, policy: ChunkPolicy = 'few-sizes'): number[] {
  if (!Number.isSafeInteger(max) || max < 1) throw new RangeError(`max must be >= 1, got ${max}`)
  const sizes: number[] = []
  let left = n
  while (left >= max) {
    sizes.push(max)
    left -= max
  }
  if (left === 0) return sizes
  if (policy === 'plain') {
    sizes.push(left)
    return sizes
  }
  for (let p = 2 ** Math.floor(Math.log2(max)); left > 0; p /= 2) {
    if (left >= p) {
      sizes.push(p)
      left -= p
    }
  }
  return sizes
}

/** `rows` cut into consecutive slices of `chunkSizes(rows.length, max, policy)`. */
export function* chunks<T>(
  rows: readonly T[],
  max: number,
  policy: ChunkPolicy = 'few-sizes',
): Generator<T[]> {
  let at = 0
  for (const size of chunkSizes(rows.length, max, policy)) {
    yield rows.slice(at, at + size)
    at += size
  }
}

/**
 * `keys` for `IN (...)` lists of at most `max`: full chunks, then the rest padded with its last
 * key to the next power of two (or to `max`, when that is smaller).
 */
export function* keyChunks<T>(keys: readonly T[], max: number): Generator<T[]> {
  for (const chunk of chunks(keys, max, 'plain')) {
    const size = Math.min(max, 2 ** Math.ceil(Math.log2(chunk.length)))
    while (chunk.length < size) chunk.push(chunk.at(-1)!)
    yield chunk
  }
}

/** SQLite keeps prepared statements (few sizes pay off); PostgreSQL does not here. */
export function chunkPolicyOf(dialect: 'sqlite' | 'postgres'): ChunkPolicy {
  return dialect === 'sqlite' ? 'few-sizes' : 'plain'
}
