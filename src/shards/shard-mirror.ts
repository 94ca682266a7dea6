// Archival mode in an account shard: the mirror as ingest there sees it. The stored repos have
// one writer, the main thread's mirror (archive/mirror.ts): it keeps each repo's writes in
// order, remembers the heads it wrote, and runs compaction between them, and on SQLite every
// write goes to the one archive writer thread behind it. So a shard does not write the archive
// itself: each write is a `mirror` op to the main thread, answered by id in a later batch
// (shard-messages.ts). An account's writes come from its turn in this shard, one at a time, so
// they reach the main thread in the order they were made.
// Queue: a write waits here until its answer comes; no bound of its own, since each is an event
// in flight (the hosts' flow control bounds those), a resync or a takedown.
// Deliberately not here: what a write does (archive/mirror.ts), when to write (ingest/).
import type { IngestMirror } from '../ingest/types.ts'
import type { MirrorAnswer, MirrorCall } from './shard-messages.ts'

interface Waiting {
  resolve(value: unknown): void
  reject(err: Error): void
}

/** A mirror write the main thread refused: its error's name and message, as it was thrown there. */
export class MirrorCallError extends Error {
  override readonly name: string
  readonly method: MirrorCall[0]
  constructor(method: MirrorCall[0], name: string, message: string) {
    super(`mirror ${method}: ${message}`)
    this.name = name
    this.method = method
  }
}

export class ShardMirror implements IngestMirror {
  readonly #send: (id: number, call: MirrorCall) => void
  readonly #waiting = new Map<number, Waiting & { method: MirrorCall[0] }>()
  #nextId = 0
  #closed = false

  /** `send`: posts the write to the main thread (an op of this turn's message). */
  constructor(send: (id: number, call: MirrorCall) => void) {
    this.#send = send
  }

  /** Writes waiting for their answer. */
  get waiting(): number {
    return this.#waiting.size
  }

  applyCommit(...args: Parameters<IngestMirror['applyCommit']>) {
    return this.#call(['applyCommit', ...args]) as ReturnType<IngestMirror['applyCommit']>
  }

  importRepo(...args: Parameters<IngestMirror['importRepo']>) {
    return this.#call(['importRepo', ...args]) as ReturnType<IngestMirror['importRepo']>
  }

  delete(...args: Parameters<IngestMirror['delete']>) {
    return this.#call(['delete', ...args]) as ReturnType<IngestMirror['delete']>
  }

  /** The main thread's answer to a write (one it no longer waits for is ignored). */
  answered(answer: MirrorAnswer): void {
    const w = this.#waiting.get(answer[0])
    if (!w) return
    this.#waiting.delete(answer[0])
    if (answer[1]) w.resolve(answer[2])
    else w.reject(new MirrorCallError(w.method, answer[2], answer[3]))
  }

  /** The thread is ending: writes still waiting fail (none should be: the shard is idle by then). */
  close(): void {
    this.#closed = true
    for (const [id, w] of this.#waiting) {
      this.#waiting.delete(id)
      w.reject(new MirrorCallError(w.method, 'Error', 'the shard is closing'))
    }
  }

  #call(call: MirrorCall): Promise<unknown> {
    if (this.#closed) {
      return Promise.reject(new MirrorCallError(call[0], 'Error', 'the shard is closing'))
    }
    const id = ++this.#nextId
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { method: call[0], resolve, reject })
      this.#send(id, call)
    })
  }
}
