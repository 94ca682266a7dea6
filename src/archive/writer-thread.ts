// The SQLite archive's writes, run on a thread of their own (writer-worker.ts) with a connection
// of their own, so the main thread neither executes the statements nor waits for the log's
// checkpoints: under archival mode's load they were about half of the main thread's time (~330
// µs of statements per commit, and a checkpoint of ~25 ms eight times a second). Every write
// goes there, compaction's vacuum included, so the file has one writer and no connection waits
// on another's lock. Reads stay on the main thread's connection (and each account shard's, whose
// writes the main thread hands on here): in WAL mode they see every write the thread has
// committed, and a write's promise settles only once it is committed.
// The requests of one turn of the event loop are posted together; the thread groups the
// commits among them into one transaction (sqlite-apply.ts).
// Queue: requests wait in `#outbox` while a thread starts, and in the thread's port until it
// runs them. No bound of its own: the callers are bounded (each request is an event in flight,
// which hosts' flow control caps, or one of a few repairs and compactions, one per repo at a
// time).
// A thread that dies fails the requests it had been given with DatabaseError `unavailable`
// (ingest then marks the account desynchronized, and its repair rewrites the repo); requests
// not yet posted wait for the next thread, started at once after one that ran 10 s or more, and
// otherwise after a backoff (doubling up to 30 s: runtime/restart-pause.ts): a thread that cannot
// open the archive, or dies at every write, is not restarted in a tight loop.
// Deliberately not here: the SQL (repo-store.ts, sqlite-apply.ts), PostgreSQL (whose writes are
// round trips the main thread only waits for).
import { DatabaseError } from '../db/errors.ts'
import { RestartPause } from '../runtime/restart-pause.ts'
import { SupervisedWorker } from '../runtime/supervised-worker.ts'
import { postableChange } from './change-buffers.ts'
import type { HeadCheck, RepoChange } from './repo-change.ts'
import { fromWriteFailure } from './write-failure.ts'
import type { FromWriter, ToWriter, WriteCall, WriteRequest } from './writer-messages.ts'

/**
 * The writes the thread takes (RepoStore sends its own there when there is one; an account
 * shard's go through the main thread, shards/shard-archive-writer.ts).
 */
export interface ArchiveWriter {
  apply(did: string, change: RepoChange, now: string, over: HeadCheck | undefined): Promise<boolean>
  delete(did: string): Promise<boolean>
  deleteBlocks(did: string, cids: readonly Uint8Array[]): Promise<number>
}

/** The operation a write is named by in its errors. */
export const writeOperation = (call: WriteCall): string =>
  call.op === 'reclaim' ? 'archive.reclaim' : `repos.${call.op}`

interface Pending {
  readonly operation: string
  resolve(value: never): void
  reject(err: Error): void
}

const WORKER_URL = new URL('./writer-worker.ts', import.meta.url)
/** A thread that ran this long after it was ready, then died, is started again without waiting. */
const HEALTHY_AFTER_MS = 10_000

export class ArchiveWriterThread implements ArchiveWriter {
  readonly #onError: (err: Error) => void
  /** The thread, replaced when it dies (runtime/supervised-worker.ts). */
  readonly #thread: SupervisedWorker<FromWriter>
  /** The current thread has said it is ready. */
  #ready = false
  /** What the current thread said went wrong before it ended (cleared when it is lost). */
  #failure: Error | undefined
  /** Says the current thread is up once it has been ready HEALTHY_AFTER_MS. */
  #upTimer: NodeJS.Timeout | null = null
  readonly #pending = new Map<number, Pending>()
  /** Ids posted to the current thread and not yet answered: what its death fails. */
  readonly #held = new Set<number>()
  #outbox: WriteRequest[] = []
  #flush: NodeJS.Immediate | null = null
  #nextId = 1
  #answered = 0
  #closing: Promise<void> | undefined
  #onFirstStart: ((err?: Error) => void) | null = null

  /** `workerUrl` replaces the thread's code (tests: a thread that dies). */
  private constructor(path: string, onError: (err: Error) => void, workerUrl: URL) {
    this.#onError = onError
    this.#thread = new SupervisedWorker<FromWriter>({
      url: workerUrl,
      // Named, so its CPU shows apart from the verify workers' (per-thread figures, `top -H`).
      workerOptions: { workerData: { path }, name: 'archive-writer' },
      // Up only once it has been ready a while: one that dies at every write backs off.
      restart: new RestartPause({ signalsUp: true }),
      life: {
        message: (m) => this.#received(m),
        lost: (cause) => this.#lost(cause),
      },
    })
  }

  /** Starts the thread; fails (nothing left running) if it cannot open the archive. */
  static async start(
    path: string,
    onError: (err: Error) => void,
    options: { workerUrl?: URL } = {},
  ): Promise<ArchiveWriterThread> {
    const thread = new ArchiveWriterThread(path, onError, options.workerUrl ?? WORKER_URL)
    const started = new Promise<void>((resolve, reject) => {
      thread.#onFirstStart = (err) => (err ? reject(err) : resolve())
    })
    thread.#thread.start()
    try {
      await started
    } catch (err) {
      await thread.close()
      throw err
    }
    return thread
  }

  get stats(): {
    inFlight: number
    answered: number
    restarts: number
    backingOff: boolean
    /** Milliseconds the thread's event loop has been busy, replaced threads included. */
    busyMs: number
  } {
    return {
      inFlight: this.#pending.size,
      answered: this.#answered,
      restarts: this.#thread.restarts,
      backingOff: this.#thread.restarting,
      busyMs: this.#thread.busyMs(),
    }
  }

  apply(
    did: string,
    change: RepoChange,
    now: string,
    over: HeadCheck | undefined,
  ): Promise<boolean> {
    return this.request({ op: 'apply', did, change, now, over }) as Promise<boolean>
  }

  delete(did: string): Promise<boolean> {
    return this.request({ op: 'delete', did }) as Promise<boolean>
  }

  deleteBlocks(did: string, cids: readonly Uint8Array[]): Promise<number> {
    return this.request({ op: 'deleteBlocks', did, cids }) as Promise<number>
  }

  /** SQLite's incremental vacuum, on the writing connection. */
  reclaim(): Promise<void> {
    return this.request({ op: 'reclaim' }) as Promise<void>
  }

  /** Any write, as it is asked for (an account shard's come so, through the main thread). */
  request(call: WriteCall): Promise<unknown> {
    const operation = writeOperation(call)
    if (this.#closing) return Promise.reject(new DatabaseError(operation, 'closed'))
    const request = call.op === 'apply' ? { ...call, change: postableChange(call.change) } : call
    return new Promise((resolve, reject) => {
      const id = this.#nextId++
      this.#pending.set(id, { operation, resolve: resolve as (v: never) => void, reject })
      this.#outbox.push({ id, ...request } as WriteRequest)
      if (this.#ready) this.#flush ??= setImmediate(() => this.#post())
    })
  }

  /**
   * Refuses new writes, lets the thread finish those it was given and close its connection.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#clearUpTimer()
      // No replacement from now on; the thread's answers still arrive until it ends.
      const worker = this.#thread.close()
      if (worker !== null) {
        this.#post()
        // Held until it has ended: a thread being waited for does not keep the process alive.
        worker.ref()
        const ended = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
        worker.postMessage({ kind: 'close' } satisfies ToWriter)
        await ended
      }
      const closed = new Error('the archive writer closed')
      for (const id of [...this.#pending.keys()]) this.#fail(id, closed)
      this.#outbox = []
    })()
    return this.#closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** Posts what waits to the current thread, once it is ready. */
  #post(): void {
    if (this.#flush !== null) clearImmediate(this.#flush)
    this.#flush = null
    const worker = this.#thread.worker
    if (!this.#ready || worker === null || this.#outbox.length === 0) return
    const requests = this.#outbox
    this.#outbox = []
    try {
      worker.postMessage({ kind: 'requests', requests } satisfies ToWriter)
      for (const r of requests) this.#held.add(r.id)
    } catch (err) {
      // Something in a change that cannot be copied to a thread (never expected): those fail.
      for (const r of requests) this.#fail(r.id, err)
    }
  }

  #received(m: FromWriter): void {
    if (m.kind === 'ready') {
      this.#ready = true
      this.#onFirstStart?.()
      this.#onFirstStart = null
      this.#upTimer = setTimeout(() => this.#thread.up(), HEALTHY_AFTER_MS)
      this.#upTimer.unref()
      this.#post()
    } else if (m.kind === 'replies') {
      for (const r of m.replies) {
        const p = this.#pending.get(r.id)
        this.#held.delete(r.id)
        if (!p) continue
        this.#pending.delete(r.id)
        this.#answered++
        if (r.ok) p.resolve(r.value as never)
        else p.reject(fromWriteFailure(r.error))
      }
    } else {
      this.#failure = fromWriteFailure(m.error)
    }
  }

  /** The thread died (or could not be made): the writes it held fail; the rest wait. */
  #lost(cause: unknown): void {
    this.#clearUpTimer()
    this.#ready = false
    const err =
      this.#failure ?? (cause instanceof Error ? cause : new Error(`archive writer: ${cause}`))
    this.#failure = undefined
    for (const id of [...this.#held]) this.#fail(id, err)
    this.#onError(err)
    if (this.#onFirstStart) {
      // The first thread could not open the archive: no retries, the start fails.
      this.#thread.close()
      this.#onFirstStart(err)
      this.#onFirstStart = null
    }
  }

  #clearUpTimer(): void {
    if (this.#upTimer !== null) clearTimeout(this.#upTimer)
    this.#upTimer = null
  }

  #fail(id: number, cause: unknown): void {
    this.#held.delete(id)
    const p = this.#pending.get(id)
    if (!p) return
    this.#pending.delete(id)
    p.reject(new DatabaseError(p.operation, 'unavailable', { cause }))
  }
}
