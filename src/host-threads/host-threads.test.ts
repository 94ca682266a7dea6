// Host threads on real worker threads, against a fake PDS on loopback, with the account shards'
// ends of the channels held by the test (it plays the shards: it takes their events and settles
// them). What is checked: each event goes straight to the shard that owns its DID, in the
// host's order at each shard; what is in flight is bounded by the host's concurrency until the shards settle;
// the cursor passes only events the log wrote or the shards dropped, and reaches the main thread
// when asked; links report their states, drops and event counts to the main thread's rules; a
// host disconnected keeps its cursor; a thread that ends is reported once and owes no answer.
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import type { MessagePort } from 'node:worker_threads'
import { eventually } from '../../test/support/relay-harness.ts'
import { shardOf } from '../accounts/shard-of.ts'
import type { LinkNotices } from '../hosts/link-notices.ts'
import { EventTypeCounter } from '../observability/event-type-counter.ts'
import type { UpstreamEvent } from '../protocol/envelope.ts'
import type { EventItem, HostEvents } from '../shards/shard-messages.ts'
import { FakePds } from '../upstream/testing/fake-pds.ts'
import { identityFrame } from '../upstream/testing/frames.ts'
import { HostThreads } from './host-threads.ts'

const did = (i: number) => `did:plc:${String.fromCharCode(97 + (i % 26)).repeat(24)}`

interface Rig {
  readonly pds: FakePds
  readonly threads: HostThreads
  /** What each shard received: host id, upstream seq, DID. */
  readonly received: { shard: number; hostId: number; seq: number; did: string }[]
  readonly notes: string[]
  readonly drops: string[]
  readonly lost: number[]
  readonly types: EventTypeCounter
  /** Settles these events at the shard that received them (as the shards do). */
  settle(seqs: readonly number[], dropped: boolean): void
}

async function rig(t: TestContext, hostConcurrency = 40): Promise<Rig> {
  const pds = await FakePds.start()
  const received: Rig['received'] = []
  const notes: string[] = []
  const drops: string[] = []
  const lost: number[] = []
  const types = new EventTypeCounter()
  const notices: LinkNotices = {
    eventsArrived: (id) => notes.push(`events ${id}`),
    info: (h, name) => notes.push(`info ${h.id} ${name}`),
    upstreamError: (h, error) => notes.push(`error ${h.id} ${error}`),
    stateChange: (h, state) => notes.push(`state ${h.id} ${state}`),
    rateLimited: (id) => notes.push(`limited ${id}`),
    rateOk: (id) => notes.push(`ok ${id}`),
  }
  const threads = new HostThreads({
    threads: 2,
    shards: 2,
    allowInsecure: true,
    userAgent: 'host-threads-test',
    hostConcurrency,
    beforeLink: () => {},
    beforeDial: () => {},
    onDrop: (hostId, reason) => drops.push(`${hostId} ${reason}`),
    eventTypes: types,
    logger: { error: (obj, msg) => notes.push(`log ${msg} ${JSON.stringify(obj)}`) },
    onLost: (thread) => lost.push(thread),
    booksEveryMs: 50,
  })
  threads.attach(notices)
  // The shards' ends: by shard, then by thread.
  const ports: MessagePort[][] = threads.shardPorts
  const origin = new Map<number, MessagePort>()
  ports.forEach((byThread, shard) => {
    for (const port of byThread) {
      port.on('message', (m: HostEvents) => {
        for (const [hostId, msg] of m.events as EventItem[]) {
          received.push({ shard, hostId, seq: msg.seq, did: (msg as UpstreamEvent).did })
          origin.set(msg.seq, port)
        }
      })
    }
  })
  t.after(async () => {
    await threads.stop()
    await threads.close()
    for (const byThread of ports) for (const p of byThread) p.close()
    await pds.close()
  })
  const settle = (seqs: readonly number[], dropped: boolean) => {
    for (const seq of seqs) origin.get(seq)!.postMessage({ settled: [1, seq, dropped ? 1 : 0] })
  }
  return { pds, threads, received, notes, drops, lost, types, settle }
}

describe('host threads', () => {
  it("hand each event to its DID's shard in the host's order, bounded until the shards settle", async (t) => {
    const r = await rig(t, 4)
    r.threads.link({ id: 1, hostname: r.pds.hostname, ssl: false }, 0)
    r.threads.connect(1)
    const sub = await r.pds.next()
    assert.equal(sub.cursor, '0')
    for (let s = 1; s <= 10; s++) await sub.send(identityFrame(s, { did: did(s) }))
    await eventually(() => r.received.length === 4, 5_000, 'the first 4')
    await new Promise((res) => setTimeout(res, 200))
    assert.equal(r.received.length, 4, 'held at --host-concurrency until settled')
    for (const e of r.received) assert.equal(e.shard, shardOf(e.did, 2), `${e.did}'s shard`)
    assert.ok(new Set(r.received.map((e) => e.shard)).size === 2, 'both shards used')
    r.settle([1, 2, 3, 4], true)
    await eventually(() => r.received.length === 8, 5_000, 'four more, once settled')
    r.settle([5, 6, 7, 8], true)
    await eventually(() => r.received.length === 10, 5_000, 'the rest')
    // Each shard has its own channel: order holds per shard (and so per account).
    for (const shard of [0, 1]) {
      const seqs = r.received.filter((e) => e.shard === shard).map((e) => e.seq)
      assert.deepEqual(
        seqs,
        [...seqs].sort((a, b) => a - b),
        `shard ${shard} in order`,
      )
    }
    assert.deepEqual(
      r.received.map((e) => e.seq).sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      'each once',
    )
    await eventually(() => r.notes.includes('state 1 connected'), 5_000, 'state reported')
    await eventually(() => r.notes.includes('events 1'), 5_000, 'arrivals reported')
    await eventually(() => r.types.get(1, '#identity') === 10, 5_000, 'counted by type')
    await eventually(() => r.threads.connection(1)?.connected === true, 5_000, 'books')
    assert.equal(r.threads.connectedHosts().join(), '1')
  })

  it('the cursor passes what the log wrote and the shards dropped, and is asked for fresh', async (t) => {
    const r = await rig(t)
    r.threads.link({ id: 1, hostname: r.pds.hostname, ssl: false }, 10)
    r.threads.connect(1)
    const sub = await r.pds.next()
    assert.equal(sub.cursor, '10')
    for (let s = 11; s <= 14; s++) await sub.send(identityFrame(s, { did: did(s) }))
    await eventually(() => r.received.length === 4, 5_000, 'four events')
    r.settle([11, 12, 13], false) // accepted: complete once written
    r.settle([14], true) // dropped: complete at once
    r.threads.complete(1, 11)
    r.threads.complete(1, 13)
    await r.threads.refreshCursors()
    assert.equal(r.threads.cursor(1), 11, '12 not written yet holds it')
    r.threads.complete(1, 12)
    await r.threads.refreshCursors()
    assert.equal(r.threads.cursor(1), 14)
    assert.deepEqual([...r.threads.cursors()], [[1, 14]])

    // Disconnected: the connection is gone from the books, the cursor stays.
    await r.threads.disconnect(1)
    assert.equal(r.threads.connection(1), undefined)
    assert.equal(r.threads.cursor(1), 14)
    r.threads.connect(1)
    assert.equal((await r.pds.next()).cursor, '14', 'resumed from the cursor')
  })

  it("a frame the link drops reaches the main thread's drop counter", async (t) => {
    const r = await rig(t)
    r.threads.link({ id: 1, hostname: r.pds.hostname, ssl: false }, 0)
    r.threads.connect(1)
    const sub = await r.pds.next()
    await sub.send(identityFrame(5, { did: did(5) }))
    await sub.send(identityFrame(3, { did: did(3) })) // seq going backwards
    await eventually(() => r.drops.length === 1, 5_000, 'the drop reported')
    assert.deepEqual(r.drops, ['1 seq-not-increasing'])
  })

  it('a thread that ends is reported once, and its calls do not wait for ever', async (t) => {
    const r = await rig(t)
    // Host 2 belongs to thread 0 (2 % 2): its thread is ended from outside.
    r.threads.link({ id: 2, hostname: r.pds.hostname, ssl: false }, 0)
    await r.threads.workers[0]!.terminate()
    await eventually(() => r.lost.length === 1, 5_000, 'the loss reported')
    assert.deepEqual(r.lost, [0])
    await r.threads.disconnect(2) // answers at once: the thread is gone
    await r.threads.refreshCursors()
    assert.deepEqual(r.lost, [0], 'reported once')
  })
})
