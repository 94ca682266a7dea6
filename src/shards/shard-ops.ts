// What the account shards' ops mean on the main thread (shard-messages.ts, ShardOp), carried out
// in the order each shard sent them: appending to the log, settling host events, counting drops
// and ratchet commits, keeping slot counts and granting slots to new accounts, queueing repairs, logging, and in archival mode on SQLite handing the shards' archive
// writes to the writer thread and answering them (shard-archive-writer.ts).
// Deliberately not here: the threads and the calls (shard-threads.ts), the operations asked of
// the shards (account-shards.ts).
import { toWriteFailure } from '../archive/write-failure.ts'
import type { WriteCall } from '../archive/writer-messages.ts'
import { writeOperation } from '../archive/writer-thread.ts'
import type { AccountShardsDeps } from './account-shards.ts'
import type { OwnerOp, ShardThreads } from './shard-threads.ts'

/** The main thread's counts of the events that pass it (without host threads). */
export interface PassingCounts {
  received: number
  accepted: number
  dropped: number
  inFlight: number
  errors: number
}

export class ShardOpCarrier {
  readonly #d: AccountShardsDeps
  readonly #threads: () => ShardThreads
  readonly #stats: PassingCounts

  constructor(deps: AccountShardsDeps, threads: () => ShardThreads, stats: PassingCounts) {
    this.#d = deps
    this.#threads = threads
    this.#stats = stats
  }

  /** Carries out one op of `shard`, in the order the shard sent them. */
  carryOut(shard: number, op: OwnerOp): void {
    const d = this.#d
    switch (op[0]) {
      case 'append': {
        const [, hostId, upstreamSeq, did, type, prefix, suffix, note] = op
        try {
          d.log.append({
            frame: { type, prefix, suffix },
            hostId,
            upstreamSeq,
            did,
            ...(note !== undefined && { note }),
          })
          this.#stats.accepted++
        } catch (err) {
          // As ingest on one thread: the event completes as an error (a bug must not wedge its
          // host or end the process).
          this.#stats.errors++
          const text = err instanceof Error ? (err.stack ?? err.message) : String(err)
          d.onError('error', text, { shard, hostId, seq: upstreamSeq, did })
        }
        return
      }
      case 'settled':
        d.hosts.settled(op[1], op[2], op[3])
        this.#stats.inFlight--
        return
      case 'drop':
        d.drops.record(op[1])
        this.#stats.dropped++
        return
      case 'commit':
        d.hosts.commitAccepted(op[1], op[2])
        return
      case 'count':
        d.hosts.adjustAccountCount(op[1], op[2])
        return
      case 'slot':
        // Decided and counted here, where every shard's new accounts of the host are counted.
        this.#threads().answerSlot(shard, [op[1], d.hosts.takeSlot(op[2])])
        return
      case 'desync':
        d.onDesynchronized(op[1], op[2])
        return
      case 'error':
        d.onError(op[1], op[2], { shard, ...op[3] })
        return
      case 'archive':
        this.#archiveWrite(shard, op[1], op[2])
        return
    }
  }

  /** Runs a shard's write on the archive's writer thread and sends the shard how it went. */
  #archiveWrite(shard: number, id: number, call: WriteCall): void {
    const writer = this.#d.archiveWriter
    const done = writer
      ? writer.request(call)
      : Promise.reject(new Error('no archive writer on the main thread'))
    done.then(
      (value) => this.#threads().answer(shard, [id, true, value]),
      (err: unknown) =>
        this.#threads().answer(shard, [id, false, toWriteFailure(writeOperation(call), err)]),
    )
  }
}
