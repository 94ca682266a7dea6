// A pool of worker threads that run verification tasks (docs/design.md §3): the CPU-heavy part of
// ingest runs off the main thread, at the rates the main thread does not carry alone
// (event-verification.ts). Tasks go to the worker with the fewest in flight. An event's frame is
// copied as it is posted (the caller keeps it); a whole repo's CAR is transferred. Tasks given
// to a worker in one turn of the event loop are posted together, their frames in one buffer
// (verify-messages.ts).
// Whole repos (a resync's or repair's import) take a worker for as long as a big repo takes,
// seconds, and an event given to that worker would wait as long. So while two workers or more
// are ready, repos go to at most all but one of them (spread over those, fewest repos first),
// and events to the others (or wait the moment one takes to start); only when one worker is
// ready, and no other starting, do both share it.
// Queue: at most `maxInFlightPerWorker` tasks per worker; beyond that, or when no worker may
// take it, a task waits in a FIFO queue of its kind. Queued events are placed before queued
// repos, except that a repo goes first when none is running, so a steady stream of events
// cannot hold repos back for ever (one repo takes one worker at most). The queues have
// no bound of their own because their callers are bounded: each waiting event is an event in
// flight, and every host's flow control caps those at `--host-concurrency`
// (hosts/flow-control.ts), so the events' queue holds at most hosts × that; repos are fetched
// a few at a time by the resync part (resync/).
// A worker that dies is replaced; its in-flight tasks are rejected with VerifyWorkerError, which
// the caller may retry once (ingest/handlers.ts does). One that keeps dying right after it starts
// (or cannot be created) is replaced after a growing pause, up to 30 s (runtime/restart-pause.ts);
// tasks meanwhile go to the other workers or wait in the queue, never failing for the pool's own
// trouble (their hosts' flow control holds the rest). Closing asks each worker to end after its
// current group rather than terminating it (verify-messages.ts says why).
// A pool with `idleStopMs` starts its workers at the first task and ends them, the same gentle
// way, once it has had nothing to do for that long: an idle isolate is ~20 MB of memory. The
// relay gives it to the pool that verifies only whole repos (beside account shards, or with
// `--verify-workers 0`) and to one whose events the main thread verifies while it carries them
// (ingest/verify-on-main.ts).
import type { Worker } from 'node:worker_threads'
import { RestartPause } from '../runtime/restart-pause.ts'
import { SupervisedWorker } from '../runtime/supervised-worker.ts'
import { type ThreadHeap, workerHeaps } from '../runtime/worker-heap.ts'
import type { RepoVerifyOutcome, RepoVerifyTask } from './repo-verify-task.ts'
import {
  answer,
  type FromWorker,
  type Job,
  postableRequests,
  type Request,
  type RequestBatch,
  type ToWorker,
  unpackReply,
} from './verify-messages.ts'
import type { VerifyOutcome, VerifyTask } from './verify-task.ts'
import { VerifyWorkerError } from './verify-worker-error.ts'

export { VerifyWorkerError } from './verify-worker-error.ts'

interface Pending {
  resolve(outcome: never): void
  reject(err: Error): void
  readonly kind: Job['kind']
}

interface Slot {
  /** Its worker, replaced when it dies. */
  readonly thread: SupervisedWorker<FromWorker>
  /** The worker has said it listens (verify-messages.ts, WorkerReady): only then given tasks. */
  ready: boolean
  inFlight: Map<number, Pending>
  /** Whole-repo tasks among them. */
  repos: number
  /**
   * Tasks given to this worker in the current turn, posted together at its end (they are in
   * `inFlight` too, so never more than the in-flight limit).
   */
  outbox: Request[]
  flush: NodeJS.Immediate | null
  /** Set aside while the pool has nothing to do (`idleStopMs`): started again by the next task. */
  resting: boolean
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
  /**
   * Workers start at the first task and end once the pool has had no task for this long; without
   * it they start at once and stay.
   */
  readonly idleStopMs?: number
}

const WORKER_URL = new URL('./verify-worker.ts', import.meta.url)
const EVENTS_FIRST = ['event', 'repo'] as const
const REPOS_FIRST = ['repo', 'event'] as const
/** How long `close` waits for a worker to end by itself before terminating it. */
const CLOSE_WAIT_MS = 10_000

export class VerifyPool {
  readonly #slots: Slot[] = []
  readonly #queues: Record<Job['kind'], { job: Job; pending: Pending }[]> = {
    event: [],
    repo: [],
  }
  readonly #maxInFlight: number
  readonly #onWorkerError: (err: unknown, restartInMs: number) => void
  /** Whole-repo tasks in flight on every worker together. */
  #repos = 0
  #nextId = 1
  #closed = false
  readonly #idleStopMs: number | undefined
  #idleTimer: NodeJS.Timeout | null = null
  /** Workers set aside and still ending (close waits for them too). */
  readonly #ending = new Set<Promise<unknown>>()

  constructor(opts: VerifyPoolOptions) {
    this.#maxInFlight = opts.maxInFlightPerWorker ?? 64
    this.#onWorkerError = opts.onWorkerError ?? (() => {})
    this.#idleStopMs = opts.idleStopMs
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
        repos: 0,
        outbox: [],
        flush: null,
        resting: opts.idleStopMs !== undefined,
      }
      this.#slots.push(slot)
      if (!slot.resting) slot.thread.start()
    }
  }

  get size(): number {
    return this.#slots.length
  }

  /** Workers that have started and said they listen (the others are starting or replaced). */
  get readyWorkers(): number {
    let n = 0
    for (const s of this.#slots) if (s.ready) n++
    return n
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
    return { inFlight, queued: this.#queues.event.length + this.#queues.repo.length, restarts }
  }

  /**
   * Each worker's V8 heap, used and committed bytes. A worker that cannot answer within a second
   * (busy with a long task, or being replaced) is left out rather than holding up a scrape.
   */
  heapStatistics(): Promise<ThreadHeap[]> {
    return workerHeaps(
      this.#slots.flatMap((s) => (s.thread.worker === null ? [] : [s.thread.worker])),
    )
  }

  /** Verifies an event; its frame is copied as it is posted, never detached. */
  verify(task: VerifyTask): Promise<VerifyOutcome> {
    return this.#run({ kind: 'event', task })
  }

  /** Verifies a whole repo export (its CAR buffer is transferred). */
  verifyRepo(task: RepoVerifyTask): Promise<RepoVerifyOutcome> {
    return this.#run({ kind: 'repo', task })
  }

  #run<T>(job: Job): Promise<T> {
    if (this.#closed) return Promise.reject(new VerifyWorkerError('verify pool is closed'))
    this.#wake()
    return new Promise<T>((resolve, reject) => {
      const pending = { resolve: resolve as (o: never) => void, reject, kind: job.kind }
      const slot = this.#leastBusy(job.kind)
      if (slot !== undefined) return this.#send(slot, job, pending)
      this.#queues[job.kind].push({ job, pending })
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
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer)
    this.#idleTimer = null
    this.#repos = 0
    const closed = new VerifyWorkerError('verify pool closed')
    for (const queue of Object.values(this.#queues)) {
      for (const { pending } of queue.splice(0)) pending.reject(closed)
    }
    for (const s of this.#slots) {
      if (s.flush !== null) clearImmediate(s.flush)
      s.flush = null
      for (const p of s.inFlight.values()) p.reject(closed)
      s.inFlight.clear()
      s.repos = 0
      s.ready = false
    }
    const running = this.#slots.flatMap((s) => s.thread.close() ?? [])
    const ends = await Promise.all(running.map((worker) => endGently(worker, true)))
    await Promise.all(this.#ending)
    const terminated = ends.filter((e) => e === 'late').length
    return { ended: ends.length - terminated, terminated }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /**
   * The ready worker with room and the fewest tasks in flight that may take a task of this kind;
   * none while every one is (re)starting, full, or kept for the other kind. Events go to workers
   * without a repo, unless every worker ready or starting has one (one worker must do both). A
   * repo goes to a worker that has one already, or to a free one while at least one other ready
   * worker stays free of repos for events; among those, to the one with the fewest repos.
   */
  #leastBusy(kind: Job['kind']): Slot | undefined {
    let ready = 0
    // Ready, or with a thread that is starting: an event waits the few milliseconds for a
    // starting worker rather than going behind a repo (seconds). A worker waiting out a restart
    // pause is not counted: events do not wait up to 30 s for it.
    let present = 0
    let withRepos = 0
    // Without a repo anywhere (always, outside resyncs and repairs), an event may go to any
    // worker: no counting.
    if (kind === 'repo' || this.#repos > 0) {
      for (const s of this.#slots) {
        if (!s.ready) {
          if (!s.resting && s.thread.worker !== null) present++
          continue
        }
        ready++
        present++
        if (s.repos > 0) withRepos++
      }
    }
    let best: Slot | undefined
    for (const s of this.#slots) {
      if (!s.ready || s.inFlight.size >= this.#maxInFlight) continue
      const kept =
        kind === 'event'
          ? s.repos > 0 && withRepos < present
          : s.repos === 0 && ready > 1 && withRepos >= ready - 1
      if (kept) continue
      if (
        best === undefined ||
        (kind === 'repo' && s.repos < best.repos) ||
        ((kind === 'event' || s.repos === best.repos) && s.inFlight.size < best.inFlight.size)
      )
        best = s
    }
    return best
  }

  #send(slot: Slot, job: Job, pending: Pending): void {
    const id = this.#nextId++
    slot.inFlight.set(id, pending)
    if (job.kind === 'repo') {
      slot.repos++
      this.#repos++
    }
    slot.outbox.push({ id, ...job })
    slot.flush ??= setImmediate(() => this.#post(slot))
  }

  #post(slot: Slot): void {
    slot.flush = null
    if (slot.outbox.length === 0) return
    const outbox = slot.outbox
    slot.outbox = []
    try {
      const { requests, transfer } = postableRequests(outbox)
      // Never null here: tasks go only to a ready worker, and replacing one clears its outbox and
      // this turn's flush.
      slot.thread.worker!.postMessage({ requests } satisfies RequestBatch, transfer)
    } catch (err) {
      // A frame that cannot be copied or a CAR that cannot be transferred (detached, or given
      // twice): the batch's tasks fail here, as a worker's death would fail them, instead of
      // throwing out of the event loop.
      for (const req of outbox) {
        this.#settled(slot, req.id)?.reject(
          new VerifyWorkerError('cannot post task', { cause: err }),
        )
      }
      this.#drain()
    }
  }

  /** Starts the workers set aside while the pool was idle (a task has come). */
  #wake(): void {
    if (this.#idleStopMs === undefined) return
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer)
    this.#idleTimer = null
    for (const s of this.#slots) {
      if (!s.resting) continue
      s.resting = false
      // At once, even where a dead worker's replacement was waiting out its pause: the pause's
      // count of quick failures is kept, so a worker that keeps dying still backs off.
      s.thread.start()
    }
  }

  #idle(): boolean {
    return (
      this.#queues.event.length === 0 &&
      this.#queues.repo.length === 0 &&
      this.#slots.every((s) => s.inFlight.size === 0)
    )
  }

  /**
   * With `idleStopMs`: once nothing is in flight or queued, sets the workers aside after it (the
   * countdown starts again from the last answer, and the pool must still be idle when it ends: a
   * task may have been queued while a worker could not be created).
   */
  #restWhenIdle(): void {
    if (this.#idleStopMs === undefined || this.#closed || !this.#idle()) return
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer)
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = null
      if (this.#closed || !this.#idle()) return
      for (const s of this.#slots) {
        if (s.resting) continue
        s.resting = true
        s.ready = false
        const worker = s.thread.rest()
        if (worker === null) continue
        const ending: Promise<unknown> = endGently(worker, false).finally(() =>
          this.#ending.delete(ending),
        )
        this.#ending.add(ending)
      }
    }, this.#idleStopMs)
    this.#idleTimer.unref()
  }

  #answered(slot: Slot, msg: FromWorker): void {
    if ('ready' in msg) {
      slot.ready = true
      this.#drain()
      return
    }
    // Up once it has answered: a worker that dies before (starting, or at its first tasks: an
    // input that kills every worker, say) is replaced after a pause.
    slot.thread.up()
    for (const sent of msg.replies) {
      const reply = unpackReply(sent)
      const pending = this.#settled(slot, reply.id)
      if (pending) answer(pending, reply)
    }
    this.#drain()
    this.#restWhenIdle()
  }

  /** Takes a task off the slot's books (its answer came, or it failed); undefined if unknown. */
  #settled(slot: Slot, id: number): Pending | undefined {
    const pending = slot.inFlight.get(id)
    if (pending === undefined) return undefined
    slot.inFlight.delete(id)
    if (pending.kind === 'repo') {
      slot.repos--
      this.#repos--
    }
    return pending
  }

  /**
   * Gives queued tasks to the workers that may take them, events first (a repo first while none
   * runs), until none can be placed. Every worker is offered work, not only the one that just
   * answered: a repo finishing there can free another worker for repos, or that one for events.
   */
  #drain(): void {
    for (;;) {
      let placed = false
      for (const kind of this.#repos === 0 ? REPOS_FIRST : EVENTS_FIRST) {
        const queue = this.#queues[kind]
        const slot = queue.length > 0 ? this.#leastBusy(kind) : undefined
        if (slot === undefined) continue
        const next = queue.shift()!
        this.#send(slot, next.job, next.pending)
        placed = true
        break
      }
      if (!placed) return
    }
  }

  /** The slot's worker died: its tasks fail (the caller may retry them once). */
  #lost(slot: Slot, cause: unknown, restartInMs: number): void {
    slot.ready = false
    for (const p of slot.inFlight.values()) {
      p.reject(new VerifyWorkerError('verify worker died', { cause }))
    }
    slot.inFlight.clear()
    this.#repos -= slot.repos
    slot.repos = 0
    if (slot.flush !== null) clearImmediate(slot.flush)
    slot.flush = null
    slot.outbox = []
    this.#onWorkerError(cause, restartInMs)
    // With one worker fewer, queued tasks may now go elsewhere (the last ready worker takes
    // repos as well as events).
    this.#drain()
    this.#restWhenIdle()
  }
}

/**
 * Asks a worker to end once its current group is done and waits for that, up to
 * `CLOSE_WAIT_MS`, then terminates it. `hold`: the process waits for it meanwhile (a closing
 * pool; a worker set aside while idle does not keep a stopping relay alive).
 */
async function endGently(worker: Worker, hold: boolean): Promise<'ended' | 'late'> {
  if (hold) worker.ref()
  const exited = new Promise<'ended'>((resolve) => worker.once('exit', () => resolve('ended')))
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), CLOSE_WAIT_MS)
    if (!hold) timer.unref()
  })
  worker.postMessage({ close: true } satisfies ToWorker)
  const how = await Promise.race([exited, late])
  clearTimeout(timer)
  if (how === 'late') await worker.terminate()
  return how
}
