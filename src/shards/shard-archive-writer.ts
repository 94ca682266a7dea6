// Archival mode on SQLite in an account shard: the archive's writes as the shard's mirror sees
// them. Each shard owns its accounts' stored repos (its own mirror over its own reading
// connection: heads, diffs, compaction, one repo's writes at a time), but a SQLite file has one
// writer, the main thread's writer thread (archive/writer-thread.ts), so the statements go
// there: each write is an `archive` op to the main thread, which hands it to that thread and
// answers by id in a later batch (shard-messages.ts). A write's answer comes once it is
// committed, so the shard's own connection then reads it (WAL). On PostgreSQL a shard writes
// with its own connections and this is not used.
// An import's change (a whole repo) is packed into one buffer and transferred, not copied
// (archive/change-buffers.ts).
// Queue: a write waits here until its answer comes; no bound of its own, since each is an event
// in flight (the hosts' flow control bounds those), a resync, a takedown or a compaction step.
// Deliberately not here: the SQL (archive/), what to write (archive/mirror.ts).
import { transferableChange } from '../archive/change-buffers.ts'
import { fromWriteFailure } from '../archive/write-failure.ts'
import type { WriteCall } from '../archive/writer-messages.ts'
import { type ArchiveWriter, writeOperation } from '../archive/writer-thread.ts'
import { DatabaseError } from '../db/errors.ts'
import type { ArchiveAnswer } from './shard-messages.ts'

interface Waiting {
  readonly operation: string
  resolve(value: never): void
  reject(err: Error): void
}

/** Posts a write to the main thread, with the buffers to transfer along with it. */
type SendWrite = (id: number, call: WriteCall, transfer: ArrayBuffer[]) => void

export class ShardArchiveWriter implements ArchiveWriter {
  #send: SendWrite | undefined
  readonly #waiting = new Map<number, Waiting>()
  #nextId = 0
  #closed = false

  /** Writes waiting for their answer. */
  get waiting(): number {
    return this.#waiting.size
  }

  /** Where writes go from now on (the shard's ops to the main thread), once the shard exists. */
  connect(send: SendWrite): void {
    this.#send = send
  }

  apply(...args: Parameters<ArchiveWriter['apply']>): Promise<boolean> {
    const [did, change, now, over] = args
    const posted = transferableChange(change)
    return this.#call({ op: 'apply', did, change: posted.change, now, over }, posted.transfer)
  }

  delete(did: string): Promise<boolean> {
    return this.#call({ op: 'delete', did })
  }

  deleteBlocks(did: string, cids: readonly Uint8Array[]): Promise<number> {
    return this.#call({ op: 'deleteBlocks', did, cids })
  }

  /** The main thread's answer to a write (one no longer waited for is ignored). */
  answered(answer: ArchiveAnswer): void {
    const w = this.#waiting.get(answer[0])
    if (!w) return
    this.#waiting.delete(answer[0])
    if (answer[1]) w.resolve(answer[2] as never)
    else w.reject(fromWriteFailure(answer[2]))
  }

  /** The thread is ending: writes still waiting fail (none should: the shard is idle by then). */
  close(): void {
    this.#closed = true
    for (const [id, w] of this.#waiting) {
      this.#waiting.delete(id)
      w.reject(new DatabaseError(w.operation, 'closed'))
    }
  }

  #call<T>(call: WriteCall, transfer: ArrayBuffer[] = []): Promise<T> {
    const operation = writeOperation(call)
    const send = this.#send
    if (this.#closed || !send) return Promise.reject(new DatabaseError(operation, 'closed'))
    const id = ++this.#nextId
    return new Promise<T>((resolve, reject) => {
      this.#waiting.set(id, { operation, resolve: resolve as (v: never) => void, reject })
      send(id, call, transfer)
    })
  }
}
