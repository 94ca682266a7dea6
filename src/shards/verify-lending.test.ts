// Verification lent between shards (decision 11), with the shards' lending parts in this one
// thread over real MessageChannels and shared counts, and stand-in verifications that say which
// shard ran them. What is checked: a shard not further behind than the margin verifies itself;
// one further behind lends to the least busy peer and gets that peer's outcome, output bytes
// included, with a copy of the frame transferred (the lender keeps its own); the counts say
// where the work is while the loan is out and return after; answers come back in groups of at
// most 8; a burst on one account counts as one item of work and is not lent; a peer is lent to
// only once it said it listens; a peer's failure or its end fails the loan as a worker's would,
// so ingest retries it, and a peer that ended gets no more.
import assert from 'node:assert/strict'
import { afterEach, describe, it } from 'node:test'
import { MessageChannel, type MessagePort } from 'node:worker_threads'
import { VerifyWorkerError } from '../ingest/verify-pool.ts'
import type { VerifyOutcome, VerifyTask } from '../ingest/verify-task.ts'
import { lendingPeers, ShardLoads } from './shard-load.ts'
import { LEND_MARGIN, type ToPeer, VerifyLending } from './verify-lending.ts'

const task = (n: number): VerifyTask => ({
  frame: new Uint8Array([n, n, n]),
  didKey: 'did:key:zQ3shexample',
  previous: null,
  now: 0,
  mode: 'lenient',
})

/**
 * An accepted outcome naming the shard that verified it, with output bytes as views into a shared
 * pool, as an encoder may hand them out (transferring the pool would detach the others). Each
 * outcome's bytes are its own part of the pool: a verification's output stays as it was made
 * until its group is posted (ingest/verify-messages.ts, `postableReplies`).
 */
const pool = new Uint8Array(64 * 1024)
let poolUsed = 0
const accepted = (shard: number, frame: Uint8Array): VerifyOutcome => {
  const at = poolUsed
  poolUsed += 4
  pool.set([shard, frame[0]!], at)
  return {
    ok: true,
    type: '#commit',
    rev: `by-${shard}`,
    commitCid: 'c',
    dataCid: 'd',
    inverted: true,
    warnings: [],
    prefix: pool.subarray(at, at + 2),
    suffix: pool.subarray(at + 2, at + 4),
  }
}

interface Lenders {
  readonly loads: ShardLoads
  readonly lending: VerifyLending[]
  /** Per shard, the first byte of each frame it verified. */
  readonly ran: number[][]
  readonly ports: MessagePort[][]
  /** Per shard, the accounts with an event there now (what ingest would count). */
  readonly accounts: number[]
  /** Shard `i` takes `events` events of as many accounts off its port. */
  holds(i: number, events: number, accounts?: number): void
}

function lenders(count: number, local?: (shard: number, t: VerifyTask) => VerifyOutcome): Lenders {
  const loads = new ShardLoads(ShardLoads.allocate(count))
  const ports: { index: number; port: MessagePort }[][] = Array.from({ length: count }, () => [])
  for (const [a, b] of lendingPeers(count)) {
    const { port1, port2 } = new MessageChannel()
    ports[a]!.push({ index: b, port: port1 })
    ports[b]!.push({ index: a, port: port2 })
  }
  const ran: number[][] = Array.from({ length: count }, () => [])
  const accounts = new Array<number>(count).fill(0)
  const lending = ports.map(
    (peers, index) =>
      new VerifyLending({
        index,
        loads,
        peers,
        local: async (t) => {
          ran[index]!.push(t.frame[0]!)
          return local ? local(index, t) : accepted(index, t.frame)
        },
        accounts: () => accounts[index]!,
      }),
  )
  return {
    loads,
    lending,
    ran,
    ports: ports.map((p) => p.map((x) => x.port)),
    accounts,
    holds(i, events, of = events) {
      loads.handed(i, events)
      accounts[i] = of
      lending[i]!.took(events)
    },
  }
}

/** Lets the channels' first messages (each end's hello) arrive. */
async function greeted(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r))
}

describe('verifications lent between shards', () => {
  let open: Lenders | undefined
  afterEach(() => {
    for (const l of open?.lending ?? []) l.close()
    open = undefined
  })

  it('verifies here while this shard is no more than the margin behind its peers', async () => {
    const l = lenders(2)
    open = l
    await greeted()
    l.holds(0, LEND_MARGIN)
    const outcome = await l.lending[0]!.verify(task(1))
    assert.equal(outcome.ok && outcome.rev, 'by-0')
    assert.deepEqual(l.ran, [[1], []])
    assert.equal(l.lending[0]!.lent, 0)
  })

  it('lends to the least busy peer when further behind, and gets its outcome back', async () => {
    const l = lenders(3)
    open = l
    await greeted()
    l.holds(0, 100)
    l.holds(1, 40)
    // Shard 2's five events still wait on its port: work too.
    l.loads.handed(2, 5)
    const t = task(7)
    const answer = l.lending[0]!.verify(t)
    // Lent: a copy of the frame went (the lender keeps its own for a retry), and the counts move
    // the work to the peer.
    assert.equal(t.frame.byteLength, 3, 'the frame is kept')
    assert.equal(l.loads.backlog(0), 99)
    assert.equal(l.loads.backlog(2), 6)
    const outcome = await answer
    assert.ok(outcome.ok)
    assert.equal(outcome.rev, 'by-2')
    assert.deepEqual([...outcome.prefix, ...outcome.suffix], [2, 7, 0, 0])
    assert.deepEqual(l.ran, [[], [], [7]])
    assert.equal(l.lending[0]!.lent, 1)
    assert.equal(l.loads.backlog(0), 100, 'the event is the lender’s again until it settles')
    assert.equal(l.loads.backlog(2), 5, 'the peer holds nothing of it')
    l.accounts[0] = 99
    l.lending[0]!.settled()
    assert.equal(l.loads.backlog(0), 99)
  })

  it('lends only while further behind than the margin', async () => {
    const l = lenders(2)
    open = l
    await greeted()
    l.holds(0, LEND_MARGIN + 5)
    // Each loan moves one item of work from this shard to the peer: 13 against 0 stops lending
    // at 10 against 3 (a difference of 7, under the margin of 8).
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, (_, i) => l.lending[0]!.verify(task(i))),
    )
    assert.deepEqual(
      outcomes.map((o) => o.ok && o.rev),
      ['by-1', 'by-1', 'by-1', 'by-0', 'by-0', 'by-0'],
    )
  })

  it('answers loans in groups of at most 8, the first as soon as it is full', async () => {
    const l = lenders(2)
    open = l
    await greeted()
    // What shard 1 sends back to shard 0, as shard 0's end of their channel receives it.
    const groups: number[] = []
    l.ports[0]![0]!.on('message', (m: ToPeer) => {
      if ('answers' in m) groups.push(m.answers.length)
    })
    l.holds(0, 100)
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) => l.lending[0]!.verify(task(i))),
    )
    assert.deepEqual(
      outcomes.map((o) => o.ok && o.rev),
      new Array(10).fill('by-1'),
    )
    // Each answer's own output bytes, though a group's travel in one buffer.
    assert.deepEqual(
      outcomes.map((o) => (o.ok ? [...o.prefix, ...o.suffix] : null)),
      Array.from({ length: 10 }, (_, i) => [1, i, 0, 0]),
    )
    assert.deepEqual(groups, [8, 2])
  })

  it('does not lend a burst on one account: its events run one after another anyway', async () => {
    const l = lenders(2)
    open = l
    await greeted()
    l.holds(0, 50, 1)
    const outcome = await l.lending[0]!.verify(task(1))
    assert.equal(outcome.ok && outcome.rev, 'by-0')
    assert.equal(l.loads.backlog(0), 1)
  })

  it('lends to no peer that has not said it listens', async () => {
    const l = lenders(2)
    open = l
    l.holds(0, 100)
    const outcome = await l.lending[0]!.verify(task(1))
    assert.equal(outcome.ok && outcome.rev, 'by-0')
  })

  it('fails a loan the peer could not verify, as a failed worker, so ingest retries it', async () => {
    const l = lenders(2, (shard) => {
      if (shard === 1) throw new Error('the peer broke')
      return accepted(shard, new Uint8Array(1))
    })
    open = l
    await greeted()
    l.holds(0, 100)
    await assert.rejects(l.lending[0]!.verify(task(1)), (err: Error) => {
      assert.ok(err instanceof VerifyWorkerError)
      assert.match(err.message, /the peer broke/)
      return true
    })
    assert.equal(l.loads.backlog(1), 0)
  })

  it('fails the loans of a peer that ended, and lends it no more', async () => {
    const l = lenders(2, (shard, t) => accepted(shard, t.frame))
    open = l
    await greeted()
    l.holds(0, 100)
    // The peer's side ends before it reads the loan.
    l.ports[1]![0]!.close()
    const lent = l.lending[0]!.verify(task(1))
    await assert.rejects(lent, VerifyWorkerError)
    const outcome = await l.lending[0]!.verify(task(2))
    assert.equal(outcome.ok && outcome.rev, 'by-0')
    assert.equal(l.loads.backlog(0), 100, 'the failed loan is the lender’s again')
  })
})

describe('shards that lend to each other', () => {
  it('pairs every shard with every other up to nine, and with eight past that', () => {
    assert.deepEqual(lendingPeers(1), [])
    assert.deepEqual(lendingPeers(2), [[0, 1]])
    assert.deepEqual(lendingPeers(3), [
      [0, 1],
      [1, 2],
      [0, 2],
    ])
    for (const count of [4, 5, 8, 9, 10, 16, 256]) {
      const pairs = lendingPeers(count)
      const keys = new Set(pairs.map(([a, b]) => `${a}:${b}`))
      assert.equal(keys.size, pairs.length, 'each pair once')
      const degree = new Array<number>(count).fill(0)
      for (const [a, b] of pairs) {
        assert.ok(a < b && b < count)
        degree[a]!++
        degree[b]!++
      }
      const expected = Math.min(count - 1, 8)
      assert.ok(
        degree.every((d) => d === expected),
        `${count} shards: each has ${expected} peers`,
      )
    }
  })

  it('reads a backlog across the counts’ wrap at 2³¹', () => {
    const loads = new ShardLoads(ShardLoads.allocate(1))
    loads.handed(0, 2 ** 31 - 10)
    loads.released(0, 2 ** 31 - 20)
    assert.equal(loads.backlog(0), 10)
    loads.handed(0, 30) // wraps past 2³¹ − 1
    assert.equal(loads.backlog(0), 40)
    loads.released(0, (2 ** 31 + 5) | 0)
    assert.equal(loads.backlog(0), 15)
    loads.borrowed(0, 2)
    assert.equal(loads.backlog(0), 17)
  })
})
