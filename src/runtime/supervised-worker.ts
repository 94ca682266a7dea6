// One worker thread that is replaced when it dies: the life the verify pool's workers, the
// upstream socket threads and the archive's writer thread share. It creates the thread, passes
// on what the current thread says (a replaced thread's last words are not passed on), and when
// the thread errs or exits (or cannot be created at all) forgets it, keeps its busy time in the
// total, terminates it, and starts the next one after the pause `RestartPause` sets. The owner
// is told each start and each loss through callbacks, and does its own bookkeeping there
// (failing its tasks, ending its lines); it never sees a stale thread.
// Deliberately not here: what the thread is asked to do, and how the owner ends it on close
// (gracefully, or by terminating): `close()` only stops restarts and hands the thread back; the
// thread's last messages (the answers to what it was given) are still passed on until it ends.
import { Worker, type WorkerOptions } from 'node:worker_threads'
import type { RestartPause } from './restart-pause.ts'
import { ThreadBusyTime } from './thread-busy.ts'

export interface WorkerLife<FromThread> {
  /**
   * A thread was created (the first or a replacement) and is now the current one; for an owner
   * that has something to give it first.
   */
  started?(worker: Worker): void
  /** A message from the current thread. */
  message(msg: FromThread, worker: Worker): void
  /**
   * The current thread died (`cause` what killed it), or no thread could be created (`how`
   * says which: only a thread that ran had work to lose); the next starts after `restartInMs`.
   * The thread is already forgotten: `worker` is null until then.
   */
  lost(cause: unknown, restartInMs: number, how: 'died' | 'not-created'): void
}

export interface SupervisedWorkerOptions<FromThread> {
  readonly url: URL
  readonly workerOptions?: WorkerOptions
  /** When a replacement starts (owned here from now on: `up()` and `close()` reach it). */
  readonly restart: RestartPause
  readonly life: WorkerLife<FromThread>
}

export class SupervisedWorker<FromThread> {
  readonly #url: URL
  readonly #options: WorkerOptions | undefined
  readonly #restart: RestartPause
  readonly #life: WorkerLife<FromThread>
  readonly #busy = new ThreadBusyTime()
  #worker: Worker | null = null
  #restarts = 0
  #closed = false
  #started = false

  constructor(options: SupervisedWorkerOptions<FromThread>) {
    this.#url = options.url
    this.#options = options.workerOptions
    this.#restart = options.restart
    this.#life = options.life
  }

  /** Starts the first thread (once, or again after `rest`; replacements start by themselves). */
  start(): void {
    if (this.#started) return
    this.#started = true
    this.#start()
  }

  /** The running thread; null while a replacement waits to start, and after `close`. */
  get worker(): Worker | null {
    return this.#worker
  }

  /** Threads replaced so far (deaths and failed creations). */
  get restarts(): number {
    return this.#restarts
  }

  /** Busy milliseconds of this thread and of every one it replaced. */
  busyMs(): number {
    return this.#busy.read(this.#worker)
  }

  /** The current thread has shown it works (for a `RestartPause` with `signalsUp`). */
  up(): void {
    this.#restart.up()
  }

  /** Waiting to start a replacement (after a death or a failed creation). */
  get restarting(): boolean {
    return this.#started && !this.#closed && this.#worker === null
  }

  /**
   * No more restarts, and no `lost` for the thread's end: answers the running thread (if any)
   * for the owner to end as it chooses. Its messages are passed on until then; its busy time
   * stays readable.
   */
  close(): Worker | null {
    this.#closed = true
    this.#restart.cancel()
    return this.#worker
  }

  /**
   * Sets the thread aside while its owner has no work for it: no replacement, no restart
   * counted, and no `lost` when it ends; `start()` starts a new one when work comes. Answers the
   * running thread (if any) for the owner to end as it chooses; its busy time stays in the total.
   */
  rest(): Worker | null {
    this.#restart.cancel()
    const worker = this.#worker
    if (worker !== null) this.#busy.replaced(worker)
    this.#worker = null
    this.#started = false
    return worker
  }

  #start(): void {
    if (this.#closed) return
    let worker: Worker
    try {
      worker = new Worker(this.#url, this.#options)
    } catch (err) {
      // No thread could be made (out of memory or threads): the owner's work waits for a
      // later try.
      this.#restarts++
      this.#life.lost(
        err,
        this.#restart.notCreated(() => this.#start()),
        'not-created',
      )
      return
    }
    this.#worker = worker
    this.#restart.started()
    // Never keeps the process alive by itself: the owner's close decides when it ends.
    worker.unref()
    worker.on('message', (msg: FromThread) => {
      if (this.#worker === worker) this.#life.message(msg, worker)
    })
    worker.on('error', (err) => this.#lose(worker, err))
    worker.on('exit', (code) => this.#lose(worker, new Error(`thread exited with code ${code}`)))
    this.#life.started?.(worker)
  }

  #lose(worker: Worker, cause: unknown): void {
    if (this.#closed || this.#worker !== worker) return
    this.#busy.replaced(worker)
    this.#worker = null
    void worker.terminate()
    this.#restarts++
    this.#life.lost(
      cause,
      this.#restart.failed(() => this.#start()),
      'died',
    )
  }
}
