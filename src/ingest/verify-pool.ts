// A pool of worker threads that run verification tasks (docs/design.md §3): the CPU-heavy part of
// ingest runs off the main thread. Tasks go to the worker with the fewest in flight. The frame
// bytes handed in must be a buffer of their own: they are transferred, not copied. Tasks given
// to a worker in one turn of the event loop are posted together (verify-messages.ts).
// Queue: at most `maxInFlightPerWorker` tasks per worker; a task beyond that waits in a FIFO
// queue for a free slot. The queue has no bound of its own because its callers are bounded:
// each waiting task is an event in flight, and every host's flow control caps those at
// `--host-concurrency` (hosts/flow-control.ts), so the queue holds at most hosts × that.
// A worker that dies is replaced; its in-flight tasks are rejected with VerifyWorkerError, which
// the caller may retry once (ingest/handlers.ts does). One that keeps dying right after it starts
// (or cannot be created) is replaced after a growing pause, up to 30 s (runtime/restart-pause.ts);
// tasks meanwhile go to the other workers or wait in the queue, never failing for the pool's own
// trouble (their hosts' flow control holds the rest). Closing asks each worker to end after its
// current group rather than terminating it (verify-messages.ts says why).
import { RestartPause } from '../runtime/restart-pause.ts'
import { SupervisedWorker } from '../runtime/supervised-worker.ts'
import type { RepoVerifyOutcome, RepoVerifyTask } from './repo-verify-task.ts'
import {
  type FromWorker,
  type Job,
  type Request,
  type RequestBatch,
  type ToWorker,
  unpackReply,
} from './verify-messages.ts'
import type { VerifyOutcome, VerifyTask } from './verify-task.ts'

export class VerifyWorkerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'VerifyWorkerError'
  }
}

interface Pending {
  resolve(outcome: never): void
  reject(err: Error): void
}

interface Slot {
  /** Its worker, replaced when it dies. */
  readonly thread: SupervisedWorker<FromWorker>
  /** The worker has said it listens (verify-messages.ts, WorkerReady): only then given tasks. */
  ready: boolean
  inFlight: Map<number, Pending>
  /**
   * Tasks given to this worker in the current turn, posted together at its end (they are in
   * `inFlight` too, so never more than the in-flight limit).
   */
  outbox: Request[]
  transfer: ArrayBuffer[]
  flush: NodeJS.Immediate | null
}

export interface VerifyPoolOptions {
  readonly size: number
  readonly maxInFlightPerWorker?: number
  /**
   * A worker died or could not be created; for the log. It is replaced after `restartInMs` (0: at
   * once; more when it never came up: runtime/restart-pause.ts).
   */
  readonly onWorkerError?: (err: unknown, restartInMs: number) => void
  /** The worker's entry (tests wrap the real one); default verify-worker.ts. */
  readonly workerUrl?: URL
  readonly now?: () => number
}

const WORKER_URL = new URL('./verify-worker.ts', import.meta.url)
/** How long `close` waits for a worker to end by itself before terminating it. */
const CLOSE_WAIT_MS = 10_000
const HEAP_STATS_TIMEOUT_MS = 1000

export class VerifyPool {
  readonly #slots: Slot[] = []
  readonly #queue: { job: Job; pending: Pending }[] = []
  readonly #maxInFlight: number
  readonly #onWorkerError: (err: unknown, restartInMs: number) => void
  #nextId = 1
  #closed = false

  constructor(opts: VerifyPoolOptions) {
    this.#maxInFlight = opts.maxInFlightPerWorker ?? 64
    this.#onWorkerError = opts.onWorkerError ?? (() => {})
    for (let i = 0; i < Math.max(1, opts.size); i++) {
      const slot: Slot = {
        thread: new SupervisedWorker<FromWorker>({
          url: opts.workerUrl ?? WORKER_URL,
          restart: new RestartPause({ now: opts.now, signalsUp: true }),
          // `ready` is false until a new worker says it listens: `#lost` cleared it.
          life: {
            message: (msg) => this.#answered(slot, msg),
            lost: (cause, restartInMs) => this.#lost(slot, cause, restartInMs),
          },
        }),
        ready: false,
        inFlight: new Map(),
        outbox: [],
        transfer: [],
        flush: null,
      }
      this.#slots.push(slot)
      slot.thread.start()
    }
  }

  get size(): number {
    return this.#slots.length
  }

  /** Milliseconds the workers' event loops have been busy, replaced workers included. */
  busyMs(): number {
    let ms = 0
    for (const s of this.#slots) ms += s.thread.busyMs()
    return ms
  }

  get stats(): { inFlight: number; queued: number; restarts: number } {
    let inFlight = 0
    let restarts = 0
    for (const s of this.#slots) {
      inFlight += s.inFlight.size
      restarts += s.thread.restarts
    }
    return { inFlight, queued: this.#queue.length, restarts }
  }

  /**
   * Each worker's V8 heap, used and committed bytes. A worker that cannot answer within a second
   * (busy with a long task, or being replaced) is left out rather than holding up a scrape.
   */
  async heapStatistics(): Promise<{ used: number; total: number }[]> {
    const each = await Promise.all(
      this.#slots.map((s) => {
        const worker = s.thread.worker
        if (worker === null) return null
        let timer: NodeJS.Timeout | undefined
        const late = new Promise<null>((resolve) => {
          timer = setTimeout(() => resolve(null), HEAP_STATS_TIMEOUT_MS)
        })
        const asked = worker.getHeapStatistics().then(
          (h) => ({ used: h.used_heap_size, total: h.total_heap_size }),
          () => null,
        )
        return Promise.race([asked, late]).finally(() => clearTimeout(timer))
      }),
    )
    return each.filter((h) => h !== null)
  }

  verify(task: VerifyTask): Promise<VerifyOutcome> {
    return this.#run({ kind: 'event', task })
  }

  /** Verifies a whole repo export (its CAR buffer is transferred). */
  verifyRepo(task: RepoVerifyTask): Promise<RepoVerifyOutcome> {
    return this.#run({ kind: 'repo', task })
  }

  #run<T>(job: Job): Promise<T> {
    if (this.#closed) return Promise.reject(new VerifyWorkerError('verify pool is closed'))
    return new Promise<T>((resolve, reject) => {
      const pending = { resolve: resolve as (o: never) => void, reject }
      const slot = this.#leastBusy()
      if (slot !== undefined && slot.inFlight.size < this.#maxInFlight) {
        return this.#send(slot, job, pending)
      }
      this.#queue.push({ job, pending })
    })
  }

  /**
   * Fails every task not done, asks each worker to end once its current group is done, and
   * waits for that (up to `CLOSE_WAIT_MS`, then terminates it). How the workers ended is
   * answered: terminating a worker inside the libsecp256k1 binding can abort the process, so it
   * is the last resort (a whole-repo task that takes longer than the wait).
   */
  async close(): Promise<{ ended: number; terminated: number }> {
    this.#closed = true
    const closed = new VerifyWorkerError('verify pool closed')
    for (const { pending } of this.#queue.splice(0)) pending.reject(closed)
    for (const s of this.#slots) {
      if (s.flush !== null) clearImmediate(s.flush)
      s.flush = null
      for (const p of s.inFlight.values()) p.reject(closed)
      s.inFlight.clear()
    }
    const running = this.#slots.flatMap((s) => s.thread.close() ?? [])
    const ends = await Promise.all(
      running.map(async (worker) => {
        // Held until it has ended: a worker being waited for does not keep the process alive.
        worker.ref()
        const exited = new Promise<'ended'>((resolve) =>
          worker.once('exit', () => resolve('ended')),
        )
        let timer: NodeJS.Timeout | undefined
        const late = new Promise<'late'>((resolve) => {
          timer = setTimeout(() => resolve('late'), CLOSE_WAIT_MS)
        })
        worker.postMessage({ close: true } satisfies ToWorker)
        const how = await Promise.race([exited, late])
        clearTimeout(timer)
        if (how === 'late') await worker.terminate()
        return how
      }),
    )
    const terminated = ends.filter((e) => e === 'late').length
    return { ended: ends.length - terminated, terminated }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** The ready worker with the fewest tasks in flight; none while every one is (re)starting. */
  #leastBusy(): Slot | undefined {
    let best: Slot | undefined
    for (const s of this.#slots) {
      if (s.ready && (best === undefined || s.inFlight.size < best.inFlight.size)) {
        best = s
      }
    }
    return best
  }

  #send(slot: Slot, job: Job, pending: Pending): void {
    const id = this.#nextId++
    slot.inFlight.set(id, pending)
    const bytes = job.kind === 'event' ? job.task.frame : job.task.car
    const owned = ownBuffer(bytes)
    const sent: Job =
      owned === bytes
        ? job
        : job.kind === 'event'
          ? { kind: 'event', task: { ...job.task, frame: owned } }
          : { kind: 'repo', task: { ...job.task, car: owned } }
    slot.outbox.push({ id, ...sent })
    slot.transfer.push(owned.buffer as ArrayBuffer)
    slot.flush ??= setImmediate(() => this.#post(slot))
  }

  #post(slot: Slot): void {
    slot.flush = null
    if (slot.outbox.length === 0) return
    const batch: RequestBatch = { requests: slot.outbox }
    const transfer = slot.transfer
    slot.outbox = []
    slot.transfer = []
    try {
      // Never null here: tasks go only to a ready worker, and replacing one clears its outbox and
      // this turn's flush.
      slot.thread.worker!.postMessage(batch, transfer)
    } catch (err) {
      // A buffer that cannot be transferred (detached, or given twice): the batch's tasks fail
      // here, as a worker's death would fail them, instead of throwing out of the event loop.
      for (const req of batch.requests) {
        slot.inFlight.get(req.id)?.reject(new VerifyWorkerError('cannot post task', { cause: err }))
        slot.inFlight.delete(req.id)
      }
      this.#drain(slot)
    }
  }

  #answered(slot: Slot, msg: FromWorker): void {
    if ('ready' in msg) {
      slot.ready = true
      this.#drain(slot)
      return
    }
    // Up once it has answered: a worker that dies before (starting, or at its first tasks: an
    // input that kills every worker, say) is replaced after a pause.
    slot.thread.up()
    for (const sent of msg.replies) {
      const reply = unpackReply(sent)
      const pending = slot.inFlight.get(reply.id)
      if (!pending) continue
      slot.inFlight.delete(reply.id)
      if ('outcome' in reply) pending.resolve(reply.outcome as never)
      else pending.reject(new VerifyWorkerError(reply.error))
    }
    this.#drain(slot)
  }

  #drain(slot: Slot): void {
    while (slot.ready && this.#queue.length > 0 && slot.inFlight.size < this.#maxInFlight) {
      const next = this.#queue.shift()!
      this.#send(slot, next.job, next.pending)
    }
  }

  /** The slot's worker died: its tasks fail (the caller may retry them once). */
  #lost(slot: Slot, cause: unknown, restartInMs: number): void {
    slot.ready = false
    for (const p of slot.inFlight.values()) {
      p.reject(new VerifyWorkerError('verify worker died', { cause }))
    }
    slot.inFlight.clear()
    if (slot.flush !== null) clearImmediate(slot.flush)
    slot.flush = null
    slot.outbox = []
    slot.transfer = []
    this.#onWorkerError(cause, restartInMs)
  }
}

/**
 * The bytes in an ArrayBuffer of their own, which can be transferred: a view of part of a larger
 * buffer (Node's small-allocation pool, which cannot be transferred at all, or a buffer other
 * data shares) is copied, so transferring never detaches anything but these bytes.
 */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
  if (whole && bytes.buffer instanceof ArrayBuffer) return bytes
  // Not `bytes.slice()`: on a Buffer it is another view of the same pool.
  return new Uint8Array(bytes)
}
