// Verification balanced across the account shards (docs/scaling.md, decision 11), in each shard.
// A shard owns its accounts' states and their order, not the work of verifying their commits:
// that needs only the frame, the key and the previous head, and answers with an outcome. So
// when this shard has more work that could run now than a peer (shard-load.ts: more than
// `LEND_MARGIN` more), it lends the verification to the least busy of its peers over a channel
// of their own and waits for the outcome, while the account's state stays here and its next
// event waits its turn as it would for a local verification. The same channel carries the
// peer's loans the other way: this shard runs them as they arrive and answers in groups.
// Frames go over as copies, transferred; output frames come back transferred, a group's in one buffer.
// What counts as work that could run now: the events on this shard's port it has not taken yet,
// and each account with an event here (running, or waiting for its turn), less those whose
// verification is out on loan. An account's events run one after another, so a burst on one
// account is one item of work, not many: lending its verifications would add a round trip to
// each without running any of them sooner. An account waiting for its identity (a PLC lookup)
// counts too, though it needs no core meanwhile: a shard with a cold identity cache may lend
// while its own core idles, which costs a round trip per loan and nothing else.
// Each loan is posted at once, not gathered per turn like the shards' other messages: this
// shard's own verifications run in the same turn, and a loan held until the turn ends would
// wait for all of them. Loans happen only while a shard is behind.
// A loan whose peer ended fails with `VerifyWorkerError`, which ingest's handlers retry once (on
// the same frame: what was lent was a copy), here or with another peer.
// Deliberately not here: what is verified (ingest/verify-task.ts), the shared counts
// (shard-load.ts), whole repos (they verify in the main thread's pool).
import type { MessagePort } from 'node:worker_threads'
import {
  type AcceptedReply,
  answer,
  failedReply,
  postableReplies,
  type Reply,
  unpackReply,
} from '../ingest/verify-messages.ts'
import type { VerifyOutcome, VerifyTask } from '../ingest/verify-task.ts'
import { VerifyWorkerError } from '../ingest/verify-worker-error.ts'
import type { ShardLoads } from './shard-load.ts'

/**
 * How much more work that could run now this shard must have than a peer before it lends to
 * it: about 2 ms of verification on one core (~250–300 µs per commit under load). Below it,
 * the messages of a loan cost more than the wait they save, and two shards a little apart
 * would lend back and forth.
 */
export const LEND_MARGIN = 8

/**
 * Answers sent together at most: loans run one after another as they arrive, so a group of
 * all of them would hold the first answer until the last had run.
 */
const ANSWER_GROUP = 8

/** A shard to lend to, and the channel to it. */
export interface LendingPeer {
  readonly index: number
  readonly port: MessagePort
}

/** Between two shards over their channel. */
export type ToPeer =
  /** First, once: this end listens (until then the peer is not lent to). */
  | { readonly hello: true }
  | { readonly lend: number; readonly task: VerifyTask }
  | { readonly answers: readonly (Reply | AcceptedReply)[] }

export interface VerifyLendingDeps {
  readonly index: number
  readonly loads: ShardLoads
  readonly peers: readonly LendingPeer[]
  /** Verifies on this thread. */
  readonly local: (task: VerifyTask) => Promise<VerifyOutcome>
  /** Accounts with an event here now, running or waiting for its turn (ingest's count). */
  readonly accounts: () => number
}

interface Peer extends LendingPeer {
  /** It said hello: it listens. */
  ready: boolean
  dead: boolean
  /** Answers to its loans not sent yet. */
  answers: Reply[]
}

interface Loan {
  readonly peer: Peer
  resolve(outcome: VerifyOutcome): void
  reject(err: Error): void
}

export class VerifyLending {
  /** Verifications this shard lent (a total, for the metrics). */
  lent = 0
  readonly #d: VerifyLendingDeps
  readonly #peers: Peer[]
  readonly #loans = new Map<number, Loan>()
  #nextLoan = 0
  /** Events taken off the port so far. */
  #taken = 0
  #flushQueued = false
  #recountQueued = false

  constructor(deps: VerifyLendingDeps) {
    this.#d = deps
    this.#peers = deps.peers.map((p) => ({
      ...p,
      ready: false,
      dead: false,
      answers: [],
    }))
    for (const peer of this.#peers) {
      peer.port.on('message', (m: ToPeer) => this.#receive(peer, m))
      peer.port.once('close', () => this.#lost(peer))
      // The channels never keep a shard's thread alive: it ends when the main thread ends it.
      peer.port.unref()
      peer.port.postMessage({ hello: true } satisfies ToPeer)
    }
  }

  /** Verifies `task` here, or at a peer when this shard is further behind. */
  verify(task: VerifyTask): Promise<VerifyOutcome> {
    const peer = this.#lessBusy()
    return peer === undefined ? this.#d.local(task) : this.#lend(peer, task)
  }

  /** `n` more events were taken off the port. */
  took(n: number): void {
    this.#taken += n
    this.#publish()
  }

  /** One of this shard's events has its outcome (ingest settled it with its host). */
  settled(): void {
    this.#publish()
    // The account leaves ingest's count only once its turn has ended, a few microtasks after
    // the settlement: count again then (once per turn), or a shard at rest would keep showing
    // its last account as work.
    if (this.#recountQueued) return
    this.#recountQueued = true
    setImmediate(() => {
      this.#recountQueued = false
      this.#publish()
    })
  }

  /** Closes the channels; loans still out fail (as their peer ending would). */
  close(): void {
    for (const peer of this.#peers) peer.port.close()
  }

  /** Stores this shard's released total: taken, less the accounts with work that can run. */
  #publish(): void {
    const runnable = this.#d.accounts() - this.#loans.size
    this.#d.loads.released(this.#d.index, this.#taken - runnable)
  }

  /** The live peer with the least work, if it is more than the margin below this shard's. */
  #lessBusy(): Peer | undefined {
    const { loads, index } = this.#d
    this.#publish()
    let below = loads.backlog(index) - LEND_MARGIN
    if (below <= 0) return undefined
    let best: Peer | undefined
    for (const peer of this.#peers) {
      if (!peer.ready || peer.dead) continue
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
    // A copy: the caller keeps its frame (ingest retries a failed loan on the same bytes).
    const frame = new Uint8Array(task.frame)
    return new Promise<VerifyOutcome>((resolve, reject) => {
      // Counted at the peer before it can answer (and take it off again).
      this.#d.loads.borrowed(peer.index, 1)
      try {
        peer.port.postMessage({ lend: id, task: { ...task, frame } } satisfies ToPeer, [
          frame.buffer,
        ])
      } catch (err) {
        this.#d.loads.borrowed(peer.index, -1)
        reject(new VerifyWorkerError('could not lend the verification', { cause: err }))
        return
      }
      this.#loans.set(id, { peer, resolve, reject })
      this.lent++
      this.#publish()
    })
  }

  /** A loan is back (answered, or failed with its peer): it is this shard's again. */
  #returned(id: number): Loan | undefined {
    const loan = this.#loans.get(id)
    if (!loan) return undefined
    this.#loans.delete(id)
    this.#publish()
    return loan
  }

  #receive(peer: Peer, m: ToPeer): void {
    if ('hello' in m) {
      peer.ready = true
      return
    }
    if ('lend' in m) {
      this.#run(peer, m.lend, m.task)
      return
    }
    for (const sent of m.answers) {
      const reply = unpackReply(sent)
      const loan = this.#returned(reply.id)
      if (loan) answer(loan, reply)
    }
  }

  /** Runs a peer's loan now and queues its answer. */
  #run(peer: Peer, id: number, task: VerifyTask): void {
    this.#d.local(task).then(
      (outcome) => this.#answer(peer, { id, outcome }),
      (err: unknown) => this.#answer(peer, failedReply(id, err)),
    )
  }

  #answer(peer: Peer, reply: Reply): void {
    this.#d.loads.borrowed(this.#d.index, -1)
    peer.answers.push(reply)
    if (peer.answers.length >= ANSWER_GROUP) {
      this.#post(peer)
      return
    }
    if (this.#flushQueued) return
    this.#flushQueued = true
    setImmediate(() => {
      this.#flushQueued = false
      for (const p of this.#peers) this.#post(p)
    })
  }

  /** Sends `peer` the answers waiting for it. */
  #post(peer: Peer): void {
    if (peer.answers.length === 0) return
    const answers = peer.answers
    peer.answers = []
    // A lender that ended failed these loans itself when its channel closed (`#lost`).
    if (peer.dead) return
    try {
      const { replies, transfer } = postableReplies(answers)
      peer.port.postMessage({ answers: replies } satisfies ToPeer, transfer)
    } catch (err) {
      // Nothing in an outcome should fail to clone; if one ever does, its loans fail (and are
      // retried once by the lender) rather than waiting for ever.
      peer.port.postMessage({
        answers: answers.map((a) => failedReply(a.id, err)),
      } satisfies ToPeer)
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
