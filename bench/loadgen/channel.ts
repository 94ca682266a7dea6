// A worker thread's messages as something to await: `next(pick)` resolves with the first message
// (queued or future) that `pick` accepts. If the worker fails or exits first, every wait rejects,
// so a run whose hosts or consumers died ends with that error instead of waiting for ever.
import type { Worker } from 'node:worker_threads'

export class WorkerChannel<M> {
  readonly #queue: M[] = []
  #waiters: (() => void)[] = []
  #failure: Error | null = null

  readonly worker: Worker

  constructor(worker: Worker, name: string) {
    this.worker = worker
    worker.on('message', (m: M) => {
      this.#queue.push(m)
      this.#wake()
    })
    worker.on('error', (err) => this.#fail(new Error(`${name} worker failed: ${err.message}`)))
    worker.on('exit', (code) => this.#fail(new Error(`${name} worker exited (${code})`)))
  }

  async next<T extends M>(pick: (m: M) => m is T): Promise<T> {
    for (;;) {
      const i = this.#queue.findIndex(pick)
      if (i >= 0) return this.#queue.splice(i, 1)[0] as T
      if (this.#failure) throw this.#failure
      await new Promise<void>((resolve) => this.#waiters.push(resolve))
    }
  }

  #fail(err: Error): void {
    this.#failure ??= err
    this.#wake()
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const w of waiters) w()
  }
}
