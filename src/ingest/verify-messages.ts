// What the verify pool and its workers say to each other. Both directions are batched: every
// task handed to a worker during one turn of the event loop goes in one message, and outcomes
// come back in groups of up to 8 (verify-worker.ts says why not more). A message between threads
// costs a serialisation, a wake-up and an event dispatch on each side whatever its size; at
// thousands of events a second, one message per event each way was a measurable share of both
// the main thread's and the worker's time.
import { ownBuffer } from '../runtime/own-buffer.ts'
import { PackedBytes } from '../runtime/packed-bytes.ts'
import type { RepoVerifyOutcome, RepoVerifyTask } from './repo-verify-task.ts'
import type { VerifyOutcome, VerifyTask } from './verify-task.ts'
import { VerifyWorkerError } from './verify-worker-error.ts'

/** A task as posted to a worker: an event, or a whole repo (resync). */
export type Job =
  | { readonly kind: 'event'; readonly task: VerifyTask }
  | { readonly kind: 'repo'; readonly task: RepoVerifyTask }

export type Request = Job & { readonly id: number }

/** Main thread → worker: the tasks of one turn, their frames and CARs in transferred buffers. */
export interface RequestBatch {
  readonly requests: readonly Request[]
}

/**
 * A turn's tasks ready to post, with the buffers to transfer. The events' frames are copied into
 * one buffer of the batch's own, and each task's frame becomes a view into it: the caller keeps
 * its frames (a task whose worker died is retried on the same bytes), and one transferred buffer
 * per batch costs both threads less than one per event (`postableReplies`). An archival event's
 * frame gets a buffer of its own: the blocks it hands back for the mirror are views into it, and
 * posting a view copies its whole buffer. A whole repo's CAR is transferred (the caller hands it
 * over), copied first only when it is a view of part of a buffer (runtime/own-buffer.ts).
 * In the worker, a batch's buffer lives until its last task has run: at most the in-flight
 * limit's frames (64, a few hundred KB), about twice what one buffer per frame would hold.
 */
export function postableRequests(requests: readonly Request[]): {
  requests: Request[]
  transfer: ArrayBuffer[]
} {
  let size = 0
  for (const r of requests) if (r.kind === 'event' && !r.task.archive) size += r.task.frame.length
  const batch = new PackedBytes(size)
  const transfer: ArrayBuffer[] = size > 0 ? [batch.bytes.buffer] : []
  const sent = requests.map((r): Request => {
    if (r.kind === 'repo') {
      const car = ownBuffer(r.task.car)
      transfer.push(car.buffer)
      return car === r.task.car ? r : { ...r, task: { ...r.task, car } }
    }
    let frame: Uint8Array<ArrayBuffer>
    if (r.task.archive) {
      frame = new Uint8Array(r.task.frame)
      transfer.push(frame.buffer)
    } else {
      frame = batch.add(r.task.frame)
    }
    return { ...r, task: { ...r.task, frame } }
  })
  return { requests: sent, transfer }
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

type Accepted = Extract<VerifyOutcome, { ok: true }>

/**
 * The common reply, an accepted event with nothing for the mirror, as a flat array: it is
 * deserialised on the main thread for every event, and a flat array costs about half the nested
 * objects (the values are the same).
 */
export type AcceptedReply = readonly [
  id: number,
  type: Accepted['type'],
  rev: string,
  commitCid: string,
  dataCid: string,
  inverted: boolean,
  warnings: Accepted['warnings'],
  prefix: Uint8Array,
  suffix: Uint8Array,
]

/** A reply as it is sent: flat when it is an accepted event without mirror input. */
export function packReply(reply: Reply): Reply | AcceptedReply {
  if (!('outcome' in reply)) return reply
  const o = reply.outcome
  if (!o.ok || !('prefix' in o) || o.mirror !== undefined) return reply
  return [
    reply.id,
    o.type,
    o.rev,
    o.commitCid,
    o.dataCid,
    o.inverted,
    o.warnings,
    o.prefix,
    o.suffix,
  ]
}

function isAcceptedReply(sent: Reply | AcceptedReply): sent is AcceptedReply {
  return Array.isArray(sent)
}

/** A sent reply as the pool handles it. */
export function unpackReply(sent: Reply | AcceptedReply): Reply {
  if (!isAcceptedReply(sent)) return sent
  const [id, type, rev, commitCid, dataCid, inverted, warnings, prefix, suffix] = sent
  const outcome: Accepted = {
    ok: true,
    type,
    rev,
    commitCid,
    dataCid,
    inverted,
    warnings,
    prefix,
    suffix,
  }
  return { id, outcome }
}

/** Worker → main thread: the outcomes of one group of tasks, their output frames in one
 * transferred buffer. */
export interface ReplyBatch {
  readonly replies: readonly (Reply | AcceptedReply)[]
}

/**
 * Worker → main thread, once, first: the worker has loaded and listens. Until then it is given no
 * task, so a worker that dies as it starts fails none (its tasks wait in the pool's queue).
 */
export interface WorkerReady {
  readonly ready: true
}

export type FromWorker = ReplyBatch | WorkerReady

/**
 * A group of replies ready to post, with the one buffer to transfer: the accepted events' output
 * frames are copied into a buffer of the group's own (encoders may hand out views into a shared
 * pool, and transferring that would detach its neighbours), and each reply's prefix and suffix
 * become views into it. One buffer per group, not two per event: each transferred buffer costs
 * the sending and the receiving thread ~1.5 µs apiece (BENCHMARKS.md, session 24). Accepted
 * events go flat (`packReply`). The outcomes' bytes are copied only now, so they must be as they
 * were made until their group is posted: a verification's output is fresh memory or a view of
 * its own input frame, which nothing rewrites.
 */
export function postableReplies(replies: readonly Reply[]): {
  replies: (Reply | AcceptedReply)[]
  transfer: ArrayBuffer[]
} {
  let size = 0
  for (const r of replies) {
    const frame = frameOf(r)
    if (frame) size += frame.prefix.length + frame.suffix.length
  }
  if (size === 0) return { replies: replies.map(packReply), transfer: [] }
  const group = new PackedBytes(size)
  const packed = replies.map((r) => {
    const frame = frameOf(r)
    if (!frame || !('outcome' in r)) return packReply(r)
    const outcome = { ...frame, prefix: group.add(frame.prefix), suffix: group.add(frame.suffix) }
    return packReply({ id: r.id, outcome })
  })
  return { replies: packed, transfer: [group.bytes.buffer] }
}

/** The accepted event outcome a reply carries (with its output frame), if it carries one. */
function frameOf(reply: Reply): Accepted | undefined {
  if (!('outcome' in reply)) return undefined
  const o = reply.outcome
  return o.ok && 'prefix' in o ? o : undefined
}

/** A task that failed where it ran, as its reply (the asker retries it once). */
export function failedReply(id: number, err: unknown): Reply {
  return { id, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }
}

/** Settles what waits for `reply`: its outcome, or a `VerifyWorkerError` for a failed task. */
export function answer(
  waiting: { resolve(outcome: never): void; reject(err: Error): void },
  reply: Reply,
): void {
  if ('outcome' in reply) waiting.resolve(reply.outcome as never)
  else waiting.reject(new VerifyWorkerError(reply.error))
}
