// The shards' checkpoint saves on SQLite, one after another. SQLite lets one writer in at a
// time, and a writer that finds the lock taken sleeps in growing steps (up to 100 ms) before it
// tries again: shards saving all at once would wait for each other longer than their writes
// take, and unfairly (src/db/accounts-threads.bench.ts). In turn, each writes as soon as the one
// before has finished. Each save is paced as well (db/paced-save.ts), which leaves SQLite's
// lock free between its batches for the main thread's own writes (docs/scaling.md, decision 9).

/** Runs `save` for each shard in turn, every one whatever the others did, as `allSettled` would. */
export async function inTurn<T>(
  shards: readonly number[],
  save: (i: number) => Promise<T>,
): Promise<PromiseSettledResult<T>[]> {
  const out: PromiseSettledResult<T>[] = []
  for (const i of shards) {
    try {
      out.push({ status: 'fulfilled', value: await save(i) })
    } catch (reason) {
      out.push({ status: 'rejected', reason })
    }
  }
  return out
}
