// The SQLite archive's writes, run on a thread of their own (writer-worker.ts) with a connection
// of their own, so the main thread neither executes the statements nor waits for the log's
// checkpoints: under archival mode's load they were about half of the main thread's time (~330
// µs of statements per commit, and a checkpoint of ~25 ms eight times a second). Reads stay on
// the main thread's connection: in WAL mode they see every write the thread has committed, and
// a write's promise settles only once it is committed.
// The requests of one turn of the event loop are posted together; the thread groups the
// commits among them into one transaction (sqlite-apply.ts).
// Queue: requests wait in the thread's port until it runs them. No bound of its own: the callers
// are bounded (each request is an event in flight, which hosts' flow control caps, or one of a
// few repairs and compactions, one per repo at a time).
// A thread that dies fails the requests it held with DatabaseError `unavailable` (ingest then
// marks the account desynchronized, and its repair rewrites the repo) and is started again.
// Deliberately not here: the SQL (repo-store.ts, sqlite-apply.ts), PostgreSQL (whose writes are
// round trips the main thread only waits for).
import { Worker } from 'node:worker_threads'
import { DatabaseError } from '../db/errors.ts'
import type { RepoChange } from './repo-change.ts'
import type { HeadCheck } from './sqlite-apply.ts'
import type { FromWriter, ToWriter, WriteFailure, WriteRequest } from './writer-messages.ts'

/** The writes the thread takes (RepoStore sends its own there when there is one). */
export interface ArchiveWriter {
  apply(did: string, change: RepoChange, now: string, over: HeadCheck | undefined): Promise<boolean>
  delete(did: string): Promise<boolean>
  deleteBlocks(did: string, cids: readonly Uint8Array[]): Promise<number>
}

interface Pending {
  readonly operation: string
  resolve(value: never): void
  reject(err: Error): void
}

/** Distributes a request's own fields over the union (an id is added when it is posted). */
type Unposted = WriteRequest extends infer R
  ? R extends WriteRequest
    ? Omit<R, 'id'>
    : never
  : never

const WORKER_URL = new URL('./writer-worker.ts', import.meta.url)

const fromFailure = (f: WriteFailure): DatabaseError =>
  new DatabaseError(f.operation, f.reason, { cause: new Error(f.message) })

export class ArchiveWriterThread implements ArchiveWriter {
  readonly #path: string
  readonly #onError: (err: Error) => void
  readonly #workerUrl: URL
  #worker: Worker
  readonly #pending = new Map<number, Pending>()
  #outbox: WriteRequest[] = []
  #flush: NodeJS.Immediate | null = null
  #nextId = 1
  #restarts = 0
  #closing: Promise<void> | undefined

  /** `workerUrl` replaces the thread's code (tests: a thread that dies). */
  constructor(path: string, onError: (err: Error) => void, options: { workerUrl?: URL } = {}) {
    this.#path = path
    this.#onError = onError
    this.#workerUrl = options.workerUrl ?? WORKER_URL
    this.#worker = this.#spawn()
  }

  get stats(): { inFlight: number; restarts: number } {
    return { inFlight: this.#pending.size, restarts: this.#restarts }
  }

  apply(
    did: string,
    change: RepoChange,
    now: string,
    over: HeadCheck | undefined,
  ): Promise<boolean> {
    return this.#send('repos.apply', { op: 'apply', did, change, now, over })
  }

  delete(did: string): Promise<boolean> {
    return this.#send('repos.delete', { op: 'delete', did })
  }

  deleteBlocks(did: string, cids: readonly Uint8Array[]): Promise<number> {
    return this.#send('repos.deleteBlocks', { op: 'deleteBlocks', did, cids })
  }

  /**
   * Refuses new writes, lets the thread finish those it was given and close its connection.
   * Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#post()
      const worker = this.#worker
      const ended = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
      worker.postMessage({ kind: 'close' } satisfies ToWriter)
      await ended
      this.#failAll(new Error('the archive writer closed'))
    })()
    return this.#closing
  }

  #send<T>(operation: string, request: Unposted): Promise<T> {
    if (this.#closing) return Promise.reject(new DatabaseError(operation, 'closed'))
    return new Promise<T>((resolve, reject) => {
      const id = this.#nextId++
      this.#pending.set(id, { operation, resolve: resolve as (v: never) => void, reject })
      this.#outbox.push({ id, ...request } as WriteRequest)
      this.#flush ??= setImmediate(() => this.#post())
    })
  }

  #post(): void {
    if (this.#flush !== null) clearImmediate(this.#flush)
    this.#flush = null
    if (this.#outbox.length === 0) return
    const requests = this.#outbox
    this.#outbox = []
    try {
      this.#worker.postMessage({ kind: 'requests', requests } satisfies ToWriter)
    } catch (err) {
      // Something in a change that cannot be copied to a thread (never expected): those fail.
      for (const r of requests) this.#settleFailed(r.id, err)
    }
  }

  #spawn(): Worker {
    // Named, so its CPU shows apart from the verify workers' (per-thread figures, `top -H`).
    const worker = new Worker(this.#workerUrl, {
      workerData: { path: this.#path },
      name: 'archive-writer',
    })
    worker.unref()
    worker.on('message', (m: FromWriter) => {
      if (m.kind === 'replies') {
        for (const r of m.replies) {
          const p = this.#pending.get(r.id)
          if (!p) continue
          this.#pending.delete(r.id)
          if (r.ok) p.resolve(r.value as never)
          else p.reject(fromFailure(r.error))
        }
      } else if (m.kind === 'failed') {
        this.#onError(fromFailure(m.error))
      }
    })
    worker.on('error', (err) => this.#replace(worker, err))
    worker.on('exit', (code) => {
      if (!this.#closing)
        this.#replace(worker, new Error(`archive writer exited with code ${code}`))
    })
    return worker
  }

  #replace(worker: Worker, cause: Error): void {
    if (worker !== this.#worker || this.#closing) return
    this.#onError(cause)
    this.#failAll(cause)
    void worker.terminate()
    this.#restarts++
    this.#worker = this.#spawn()
  }

  #failAll(cause: Error): void {
    for (const id of [...this.#pending.keys()]) this.#settleFailed(id, cause)
  }

  #settleFailed(id: number, cause: unknown): void {
    const p = this.#pending.get(id)
    if (!p) return
    this.#pending.delete(id)
    p.reject(new DatabaseError(p.operation, 'unavailable', { cause }))
  }
}
