// Verification balanced across the account shards (docs/scaling.md, decision 11), in each shard.
// A shard owns its accounts' states and their order, not the work of verifying their commits:
// that needs only the frame, the key and the previous head, and answers with an outcome. So
// when this shard is further behind than a peer (shard-load.ts: more than `LEND_MARGIN` events),
// it lends the verification to the least busy of its peers over a channel of their own and waits
// for the outcome, while the account's state stays here and its next event waits its turn as it
// would for a local verification. The same channel carries the peer's loans the other way: this
// shard runs them as they arrive and answers in groups, once per turn. Frames go over
// transferred, output frames come back transferred.
// A loan whose peer ended fails with `VerifyWorkerError`, which ingest's handlers retry once (on
// a fresh copy of the frame), here or with another peer.
// Deliberately not here: what is verified (ingest/verify-task.ts), how behind a shard is
// (shard-load.ts), whole repos (they verify in the main thread's pool).
import type { MessagePort } from 'node:worker_threads'
import {
  type AcceptedReply,
  packReply,
  type Reply,
  unpackReply,
} from '../ingest/verify-messages.ts'
import { VerifyWorkerError } from '../ingest/verify-pool.ts'
import type { VerifyOutcome, VerifyTask } from '../ingest/verify-task.ts'
import type { ShardLoads } from './shard-load.ts'

/**
 * How many more events than a peer this shard must have before it lends to it: about 4 ms of
 * verification on one core. Below it, the messages of a loan cost more than the wait they save,
 * and two shards a few events apart would lend back and forth.
 */
export const LEND_MARGIN = 16

/** A shard to lend to, and the channel to it. */
export interface LendingPeer {
  readonly index: number
  readonly port: MessagePort
}

/** Between two shards over their channel: a loan, or the answers to loans. */
export type ToPeer =
  | { readonly lend: number; readonly task: VerifyTask }
  | { readonly answers: readonly (Reply | AcceptedReply)[] }

export interface VerifyLendingDeps {
  readonly index: number
  readonly loads: ShardLoads
  readonly peers: readonly LendingPeer[]
  /** Verifies on this thread. */
  readonly local: (task: VerifyTask) => Promise<VerifyOutcome>
  readonly margin?: number
}

interface Peer extends LendingPeer {
  dead: boolean
  /** Answers to its loans, sent at the end of this turn. */
  answers: (Reply | AcceptedReply)[]
  transfer: ArrayBuffer[]
}

interface Loan {
  readonly peer: Peer
  resolve(outcome: VerifyOutcome): void
  reject(err: Error): void
}

export class VerifyLending {
  /** Verifications this shard lent, and ran for others (totals, for the metrics). */
  readonly stats = { lent: 0, borrowed: 0 }
  readonly #d: VerifyLendingDeps
  readonly #margin: number
  readonly #peers: Peer[]
  readonly #loans = new Map<number, Loan>()
  #nextLoan = 0
  /** This shard's events settled, plus those verifying at a peer now (shard-load.ts). */
  #released = 0
  #flushQueued = false

  constructor(deps: VerifyLendingDeps) {
    this.#d = deps
    this.#margin = deps.margin ?? LEND_MARGIN
    this.#peers = deps.peers.map((p) => ({ ...p, dead: false, answers: [], transfer: [] }))
    for (const peer of this.#peers) {
      peer.port.on('message', (m: ToPeer) => this.#receive(peer, m))
      peer.port.once('close', () => this.#lost(peer))
      // The channels never keep a shard's thread alive: it ends when the main thread ends it.
      peer.port.unref()
    }
  }

  /** Verifies `task` here, or at a peer when this shard is further behind. */
  verify(task: VerifyTask): Promise<VerifyOutcome> {
    const peer = this.#lessBusy()
    return peer === undefined ? this.#d.local(task) : this.#lend(peer, task)
  }

  /** One of this shard's events has its outcome (ingest settled it with its host). */
  settled(): void {
    this.#released++
    this.#d.loads.released(this.#d.index, this.#released)
  }

  /** Closes the channels; loans still out fail (as their peer ending would). */
  close(): void {
    for (const peer of this.#peers) peer.port.close()
  }

  /** The live peer with the smallest backlog, if it is more than the margin below this one's. */
  #lessBusy(): Peer | undefined {
    const { loads, index } = this.#d
    let below = loads.backlog(index) - this.#margin
    if (below <= 0) return undefined
    let best: Peer | undefined
    for (const peer of this.#peers) {
      if (peer.dead) continue
      const backlog = loads.backlog(peer.index)
      if (backlog < below) {
        below = backlog
        best = peer
      }
    }
    return best
  }

  #lend(peer: Peer, task: VerifyTask): Promise<VerifyOutcome> {
    const id = ++this.#nextLoan
    const { frame } = task
    const own = frame.byteOffset === 0 && frame.byteLength === frame.buffer.byteLength
    const transfer = own && frame.buffer instanceof ArrayBuffer ? [frame.buffer] : []
    return new Promise<VerifyOutcome>((resolve, reject) => {
      try {
        peer.port.postMessage({ lend: id, task } satisfies ToPeer, transfer)
      } catch (err) {
        reject(new VerifyWorkerError('could not lend the verification', { cause: err }))
        return
      }
      this.#loans.set(id, { peer, resolve, reject })
      this.stats.lent++
      this.#released++
      this.#d.loads.released(this.#d.index, this.#released)
      this.#d.loads.borrowed(peer.index, 1)
    })
  }

  /** A loan is back (answered, or failed with its peer): it is this shard's again. */
  #returned(id: number): Loan | undefined {
    const loan = this.#loans.get(id)
    if (!loan) return undefined
    this.#loans.delete(id)
    this.#released--
    this.#d.loads.released(this.#d.index, this.#released)
    return loan
  }

  #receive(peer: Peer, m: ToPeer): void {
    if ('lend' in m) {
      this.#run(peer, m.lend, m.task)
      return
    }
    for (const sent of m.answers) {
      const reply = unpackReply(sent)
      const loan = this.#returned(reply.id)
      if (!loan) continue
      if ('error' in reply) loan.reject(new VerifyWorkerError(reply.error))
      else loan.resolve(reply.outcome as VerifyOutcome)
    }
  }

  /** Runs a peer's loan now and queues its answer. */
  #run(peer: Peer, id: number, task: VerifyTask): void {
    this.stats.borrowed++
    this.#d.local(task).then(
      (outcome) => {
        if (!outcome.ok) return this.#answer(peer, { id, outcome }, [])
        // Buffers of their own before transferring: encoders may hand out views into a pool.
        const prefix = new Uint8Array(outcome.prefix)
        const suffix = new Uint8Array(outcome.suffix)
        this.#answer(peer, { id, outcome: { ...outcome, prefix, suffix } }, [
          prefix.buffer,
          suffix.buffer,
        ])
      },
      (err: unknown) =>
        this.#answer(
          peer,
          { id, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) },
          [],
        ),
    )
  }

  #answer(peer: Peer, reply: Reply, transfer: ArrayBuffer[]): void {
    this.#d.loads.borrowed(this.#d.index, -1)
    peer.answers.push(packReply(reply))
    peer.transfer.push(...transfer)
    if (this.#flushQueued) return
    this.#flushQueued = true
    setImmediate(() => this.#flush())
  }

  #flush(): void {
    this.#flushQueued = false
    for (const peer of this.#peers) {
      if (peer.answers.length === 0) continue
      const answers = peer.answers
      const transfer = peer.transfer
      peer.answers = []
      peer.transfer = []
      if (peer.dead) continue
      try {
        peer.port.postMessage({ answers } satisfies ToPeer, transfer)
      } catch (err) {
        // Nothing in an outcome should fail to clone; if one ever does, its loans fail (and are
        // retried once by the lender) rather than waiting for ever.
        const error = `could not answer a loan: ${err instanceof Error ? err.message : String(err)}`
        const failed = answers.map((a) => ({
          id: Array.isArray(a) ? a[0] : (a as Reply).id,
          error,
        }))
        peer.port.postMessage({ answers: failed } satisfies ToPeer)
      }
    }
  }

  /** The peer's thread ended: its loans fail (ingest retries them), and it gets no more. */
  #lost(peer: Peer): void {
    peer.dead = true
    for (const [id, loan] of this.#loans) {
      if (loan.peer !== peer) continue
      this.#returned(id)
      loan.reject(new VerifyWorkerError(`account shard ${peer.index} ended with a loan`))
    }
  }
}
