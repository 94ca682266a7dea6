// What the verify pool and its workers say to each other. Both directions are batched: every
// task handed to a worker during one turn of the event loop goes in one message, and outcomes
// come back in groups of up to 8 (verify-worker.ts says why not more). A message between threads
// costs a serialisation, a wake-up and an event dispatch on each side whatever its size; at
// thousands of events a second, one message per event each way was a measurable share of both
// the main thread's and the worker's time.
import type { RepoVerifyOutcome, RepoVerifyTask } from './repo-verify-task.ts'
import type { VerifyOutcome, VerifyTask } from './verify-task.ts'

/** A task as posted to a worker: an event, or a whole repo (resync). */
export type Job =
  | { readonly kind: 'event'; readonly task: VerifyTask }
  | { readonly kind: 'repo'; readonly task: RepoVerifyTask }

export type Request = Job & { readonly id: number }

/** Main thread → worker: the tasks of one turn, their frame and CAR buffers transferred. */
export interface RequestBatch {
  readonly requests: readonly Request[]
}

/**
 * Main thread → worker: finish the task running now, drop the rest (the pool has failed them)
 * and end. A worker is asked to end, not terminated: terminating a thread while it is inside
 * the libsecp256k1 binding aborts the whole process (the binding throws a C++ exception while
 * its environment is torn down).
 */
export interface CloseRequest {
  readonly close: true
}

export type ToWorker = RequestBatch | CloseRequest

export type Reply =
  | { readonly id: number; readonly outcome: VerifyOutcome | RepoVerifyOutcome }
  | { readonly id: number; readonly error: string }

/** Worker → main thread: the outcomes of one group of tasks, output frame buffers transferred. */
export interface ReplyBatch {
  readonly replies: readonly Reply[]
}
