// How a checkpoint's rows reach the database (the account states with their checkpoint seq; the
// identities resolved since the last, identity/stored-identities.ts): in batches of `SAVE_BATCH_ROWS`, each
// its own transaction, the checkpoint seq written with the last, and between two batches a pause
// as long as the batch before it took. Why: node:sqlite is synchronous, so one transaction of
// every changed state blocked the writing thread for all of it (the main thread without account
// shards: 70–85 ms for 10,000 states, ~380 ms for 50,000 on the development box, every
// `--checkpoint-interval`, src/accounts/account-checkpoint.bench.ts), and SQLite lets one writer
// in at a time, so another thread's write (the main thread's host rows while a shard saves)
// waited as long. Batched, a thread is blocked one batch at a time and its events run between
// batches; paused, a writer holds SQLite's lock at most about half the time, so a waiting
// writer's retries (SQLite's busy wait sleeps 1, 2, 5, 10 ms and more between tries) soon find
// it free (docs/scaling.md, decision 9).
// Why it is safe to write the states before the seq: a crash between two batches leaves some
// states newer than the stored checkpoint. Recovery replays the log from that checkpoint and
// applies each record's account event again, and every event the account-state rule knows sets
// what it carries (the head, the handle, a status; a head or an upstream status also the host,
// and the others never move a known account), so states rebuilt over a newer state end where
// they would have from the older one. The one event read back differently over a newer state is
// an `#account` record written before records carried notes (checkpoint/account-replay.ts reads
// its status masked by the state before it), and none of those is ever replayed over a paced
// save: recovery writes at once with the log's last seq before this version's first checkpoint.
// The log is synced before a snapshot is saved, so no stored state is ever ahead of the log.
// On PostgreSQL, whose driver does not block a thread, the same pacing only spreads the work.
// Deliberately not here: which states, which seq (the account cache), SQL (the caller's batch).

/** States in one transaction at most: a few milliseconds of SQLite (about 130,000 rows/s). */
export const SAVE_BATCH_ROWS = 500

/** Paced while the relay runs; at once where nothing else waits (recovery at start). */
export type SavePace = 'paced' | 'at-once'

/** The pause and the clock of paced work (tests give their own). */
export interface PaceIo {
  /** Waits `ms` before the next batch (a timer: the thread's other work runs meanwhile). */
  pause?(ms: number): Promise<void>
  /** Milliseconds now (performance.now), to time each batch. */
  now?(): number
}

export interface SaveBatches<T> extends PaceIo {
  /** Writes one batch in one transaction, with `checkpointSeq` when it is the last (else null). */
  writeBatch(batch: readonly T[], checkpointSeq: number | null): Promise<void>
}

/**
 * Runs `step` until it says there is no more; paced, with a pause after each step as long as it
 * took, at once with none.
 */
export async function repeatPaced(
  pace: SavePace,
  step: () => Promise<boolean>,
  io: PaceIo = {},
): Promise<void> {
  const now = io.now ?? (() => performance.now())
  const pause = io.pause ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)))
  for (;;) {
    const started = now()
    if (!(await step())) return
    if (pace === 'paced') await pause(Math.max(1, now() - started))
  }
}

/**
 * Writes `states` in batches and `checkpointSeq` with the last one (alone when there are no
 * states). A batch that fails rejects the save: the batches before it stay written, which the
 * header says is safe, and the caller keeps every state for the next save.
 */
export async function saveInBatches<T>(
  states: readonly T[],
  checkpointSeq: number,
  pace: SavePace,
  io: SaveBatches<T>,
  batchRows: number = SAVE_BATCH_ROWS,
): Promise<void> {
  const size = pace === 'at-once' ? Math.max(states.length, 1) : Math.max(1, batchRows)
  let from = 0
  await repeatPaced(
    pace,
    async () => {
      const to = Math.min(from + size, states.length)
      const last = to === states.length
      const batch = from === 0 && last ? states : states.slice(from, to)
      await io.writeBatch(batch, last ? checkpointSeq : null)
      from = to
      return !last
    },
    io,
  )
}
