// Where each event's verification runs while ingest is on the main thread (no account shards):
// on this thread while `VerifyOnMain` says so (verify-on-main.ts says why and when), otherwise in
// the verify pool. Both run the same task (verify-task.ts) and answer the same outcome. A
// verification that throws here fails with `VerifyWorkerError`, as one that throws in a worker
// does, so ingest's single retry (handlers.ts) covers both. Every verification is timed for the
// metrics, and counted by where it ran.
// Deliberately not here: the deciding (verify-on-main.ts), whole repos (always the pool),
// and the account shards, which verify on their own threads (shards/verify-lending.ts).
import { ownBuffer } from '../runtime/own-buffer.ts'
import type { VerifyOutcome, VerifyTask } from './verify-task.ts'
import { VerifyWorkerError } from './verify-worker-error.ts'

export interface EventVerificationDeps {
  readonly pool: { verify(task: VerifyTask): Promise<VerifyOutcome> }
  /** Verifies on this thread (verify-task.ts with this thread's signature backend). */
  readonly local: (task: VerifyTask) => Promise<VerifyOutcome>
  /** Whether this thread verifies the next event (verify-on-main.ts). */
  readonly place: { take(): boolean; readonly onMain: boolean }
  /** Each verification's seconds, wherever it ran (the metrics' histogram). */
  readonly observe?: (seconds: number) => void
}

export class EventVerification {
  readonly #d: EventVerificationDeps
  #onMain = 0
  #inWorkers = 0

  constructor(deps: EventVerificationDeps) {
    this.#d = deps
  }

  /** Events verified so far on the main thread and in the verify workers. */
  get counts(): { readonly main: number; readonly workers: number } {
    return { main: this.#onMain, workers: this.#inWorkers }
  }

  /** Whether the main thread verifies the events now. */
  get onMain(): boolean {
    return this.#d.place.onMain
  }

  readonly verify = (task: VerifyTask): Promise<VerifyOutcome> => {
    const observe = this.#d.observe
    const start = observe === undefined ? 0 : performance.now()
    let running: Promise<VerifyOutcome>
    if (this.#d.place.take()) {
      this.#onMain++
      running = this.#local(task)
    } else {
      this.#inWorkers++
      running = this.#d.pool.verify(task)
    }
    if (observe === undefined) return running
    return running.finally(() => observe((performance.now() - start) / 1000))
  }

  #local(task: VerifyTask): Promise<VerifyOutcome> {
    const failed = (err: unknown) =>
      Promise.reject(
        new VerifyWorkerError('verification failed on the main thread', { cause: err }),
      )
    try {
      // Its output frame may be views of these bytes, kept as long as the event is: a view of a
      // larger buffer would keep all of it (a worker's output comes back in its group's buffer).
      return this.#d.local({ ...task, frame: ownBuffer(task.frame) }).catch(failed)
    } catch (err) {
      return failed(err)
    }
  }
}
