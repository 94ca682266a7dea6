// Periodic checkpoints (docs/design.md §3): account states and upstream cursors are written to
// the database every few seconds, each with the event-log position they are consistent with, so
// a restart after a crash replays only the log written since (recovery.ts).
// - Accounts: the log is synced first, then every changed state and `accounts_checkpoint_seq`
//   are written, in paced batches with the seq in the last (the account cache does that:
//   db/paced-save.ts).
// - Hosts: changed account counts; then every host's cursor, as the hosts part derives it, with
//   `cursors_scan_from`, the oldest log seq holding an event above a host's cursor (the cursor
//   book), in one transaction.
// - Then whatever the caller adds after the cursors (the identities resolved since the last).
// A checkpoint asked for while one runs waits for it and then runs once more: the running one may
// have read the cursors and states before the caller's change. Callers that ask meanwhile share
// that one next run. The last checkpoint, at stop (`last`), writes its states at once: no event
// waits behind it any more, and pacing would only make the stop longer (about twice as long).
// Operations that must not be lost to a crash (a cursor reset, a block) ask
// for one and wait; so does releasing throttled accounts, which reads the stored states.
// Deliberately not here: what the states and cursors are (accounts/, hosts/), SQL (the caller's
// `saveCursors`).
import type { SavePace } from '../db/paced-save.ts'
import type { CursorBook } from './cursor-book.ts'

/** The meta key of the log seq the stored cursors' skip sets are rebuilt from. */
export const CURSORS_SCAN_FROM_KEY = 'cursors_scan_from'

export interface CheckpointerDeps {
  readonly accounts: {
    /** Writes changed states with `seq` as their checkpoint; `beforeSave` runs first. */
    write(seq: number, beforeSave: () => Promise<void>, pace: SavePace): Promise<number>
  }
  readonly log: { readonly lastSeq: number; sync(): Promise<void> }
  readonly hosts: {
    /** Every known host's cursor (null: read from its live head). */
    cursors(): ReadonlyMap<number, number | null>
    /**
     * Brings `cursors` up to date where it is a copy (host threads keep the links); before it is
     * read. A copy may only lag: a cursor never passes an event the log has not written.
     */
    refreshCursors?(): Promise<void>
    /** Writes what the hosts batch for the checkpoint (account counts, ratchet counters). */
    persistBatched(): Promise<void>
  }
  readonly book: CursorBook
  /** Writes the host cursors and the scan-from seq in one transaction. */
  readonly saveCursors: (
    cursors: ReadonlyMap<number, number | null>,
    scanFrom: number,
  ) => Promise<void>
  /**
   * Runs last, once the cursors are stored (the identities resolved since the last checkpoint:
   * writing a backlog of them must not hold the cursors back). Never rejects.
   */
  readonly afterCursors?: (pace: SavePace) => Promise<void>
  /** Starts timing one checkpoint; the returned function ends it (metrics). */
  readonly startTimer?: () => () => void
  readonly onError: (err: unknown) => void
}

export class Checkpointer {
  readonly #d: CheckpointerDeps
  #running: Promise<void> | undefined
  /** The one run queued behind the running one. */
  #next: Promise<void> | undefined
  #timer: NodeJS.Timeout | undefined
  #pace: SavePace = 'paced'

  constructor(deps: CheckpointerDeps) {
    this.#d = deps
  }

  /** A checkpoint of the state as it is now; rejects when it fails. */
  run(): Promise<void> {
    const running = this.#running
    if (running === undefined) {
      const run = this.#checkpoint(this.#pace).finally(() => {
        this.#running = undefined
      })
      this.#running = run
      return run
    }
    this.#next ??= running
      .catch(() => {})
      .then(() => {
        this.#next = undefined
        return this.run()
      })
    return this.#next
  }

  /** Checkpoints every `intervalMs` until `stop()`; failures go to `onError`. */
  start(intervalMs: number): void {
    this.stop()
    this.#timer = setInterval(() => this.run().catch(this.#d.onError), intervalMs)
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  /**
   * The last checkpoint, at stop: the periodic ones end, and this one (after any running) writes
   * its states at once. Rejects when it fails.
   */
  last(): Promise<void> {
    this.stop()
    this.#pace = 'at-once'
    return this.run()
  }

  /** `pace` as it was when the run began: a run already going when `last` is called stays paced. */
  async #checkpoint(pace: SavePace): Promise<void> {
    const d = this.#d
    const end = d.startTimer?.()
    try {
      await d.hosts.persistBatched()
      await d.hosts.refreshCursors?.()
      const seq = d.log.lastSeq
      const cursors = d.hosts.cursors()
      await d.accounts.write(seq, () => d.log.sync(), pace)
      const scanFrom = d.book.settle(cursors) ?? seq + 1
      await d.saveCursors(cursors, scanFrom)
      await d.afterCursors?.(pace)
    } finally {
      end?.()
    }
  }
}
