// The repair queue with a scripted repair (each call waits until the test answers it) on mocked
// timers: at most one repair per host at a time, hosts taking turns, within the concurrency; an
// account is queued once, and past MAX_QUEUED it is counted as overflow instead; a failed (or
// stale) repair is tried again after 1 min, 5 min, 30 min, then every 2 h, and a done one
// (repaired, or refused: taken down, throttled) is not; the sweep queues the accounts the
// database holds as desynchronized (a real SQLite store, paged past 1000) at start and every
// 10 minutes; accounts queued before start run once it starts; stop() waits for the repairs
// running and starts nothing more.
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { tempDatabase } from '../db/testing.ts'
import { MAX_QUEUED, Repairs } from './repairs.ts'
import type { SyncAccountResult } from './repo-syncer.ts'

type Outcome = 'synced' | 'refused' | 'stale' | 'failed' | 'throws'

const MIN = 60_000

/** Lets the repairs' promise chains run (setImmediate is not mocked). */
const settle = async () => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r))
}

/** Settles until `done()` (a database read is a few turns away), failing after many turns. */
const until = async (done: () => boolean) => {
  for (let i = 0; i < 1000 && !done(); i++) await settle()
  assert.ok(done(), 'never happened')
}

function rig(
  t: TestContext,
  opts: {
    concurrency?: number
    listDesynchronized?: (
      after: string | null,
      limit: number,
    ) => Promise<{ did: string; hostId: number }[]>
  } = {},
) {
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] })
  /** Every repair asked for, in order; `answer` ends the oldest unanswered one of a DID. */
  const calls: string[] = []
  const waiting = new Map<string, ((o: Outcome) => void)[]>()
  const logs: string[] = []
  const repairs = new Repairs({
    repair: (did) => {
      calls.push(did)
      return new Promise<SyncAccountResult>((resolve, reject) => {
        const list = waiting.get(did) ?? []
        list.push((o) => {
          if (o === 'throws') reject(new Error('boom'))
          else if (o === 'failed')
            resolve({ did, result: 'failed', reason: 'unreachable', detail: 'down' })
          else resolve({ did, result: o, rev: '3lbbbbbbbbbb2' })
        })
        waiting.set(did, list)
      })
    },
    listDesynchronized: opts.listDesynchronized ?? (async () => []),
    logger: {
      info: (_o, msg) => logs.push(msg),
      warn: (_o, msg) => logs.push(msg),
      error: (_o, msg) => logs.push(msg),
    },
    concurrency: opts.concurrency ?? 4,
  })
  const answer = async (did: string, outcome: Outcome = 'synced') => {
    const next = waiting.get(did)?.shift()
    assert.ok(next, `no repair of ${did} is running`)
    next(outcome)
    await settle()
  }
  const tick = async (ms: number) => {
    t.mock.timers.tick(ms)
    await settle()
  }
  return { repairs, calls, answer, tick, logs }
}

describe('Repairs', () => {
  it('runs one repair per host at a time, hosts taking turns, within the concurrency', async (t) => {
    const { repairs, calls, answer } = rig(t, { concurrency: 4 })
    for (const [did, host] of [
      ['a1', 1],
      ['a2', 1],
      ['a3', 1],
      ['b1', 2],
      ['c1', 3],
    ] as const) {
      repairs.enqueue(did, host)
    }
    repairs.start()
    await settle()
    assert.deepEqual(calls, ['a1', 'b1', 'c1'], 'host 1 waits for its running repair')
    assert.deepEqual([repairs.stats.running, repairs.stats.queued], [3, 2])
    await answer('b1')
    assert.deepEqual(calls, ['a1', 'b1', 'c1'], 'a free slot does not go to a busy host')
    await answer('a1')
    assert.deepEqual(calls, ['a1', 'b1', 'c1', 'a2'])
    await answer('a2')
    await answer('a3')
    await answer('c1')
    assert.deepEqual(repairs.stats, { queued: 0, running: 0, repaired: 5, failed: 0, overflow: 0 })
    await repairs.stop()
  })

  it('with one slot, serves the hosts in turn rather than draining one first', async (t) => {
    const { repairs, calls, answer } = rig(t, { concurrency: 1 })
    for (const [did, host] of [
      ['a1', 1],
      ['a2', 1],
      ['a3', 1],
      ['b1', 2],
      ['b2', 2],
    ] as const) {
      repairs.enqueue(did, host)
    }
    repairs.start()
    await settle()
    for (const did of ['a1', 'b1', 'a2', 'b2', 'a3']) await answer(did)
    assert.deepEqual(calls, ['a1', 'b1', 'a2', 'b2', 'a3'])
    await repairs.stop()
  })

  it('queues an account once, and counts accounts past MAX_QUEUED as overflow', async (t) => {
    const { repairs } = rig(t)
    repairs.enqueue('did:x', 1)
    repairs.enqueue('did:x', 1)
    assert.equal(repairs.stats.queued, 1)
    for (let i = 1; i < MAX_QUEUED; i++) repairs.enqueue(`did:${i}`, i % 7)
    assert.deepEqual([repairs.stats.queued, repairs.stats.overflow], [MAX_QUEUED, 0])
    repairs.enqueue('did:one-too-many', 1)
    repairs.enqueue('did:another', 2)
    assert.deepEqual([repairs.stats.queued, repairs.stats.overflow], [MAX_QUEUED, 2])
  })

  it('tries a failed repair again after 1 min, 5 min, 30 min, then every 2 h, until it is done', async (t) => {
    const { repairs, calls, answer, tick, logs } = rig(t)
    repairs.enqueue('d', 1)
    repairs.start()
    await settle()
    const outcomes: Outcome[] = ['failed', 'stale', 'throws', 'failed', 'failed']
    const delays = [1 * MIN, 5 * MIN, 30 * MIN, 120 * MIN, 120 * MIN]
    for (const [i, outcome] of outcomes.entries()) {
      await answer('d', outcome)
      await tick(delays[i]! - 1)
      assert.equal(calls.length, i + 1, `attempt ${i + 2} not before ${delays[i]} ms`)
      await tick(1)
      assert.equal(calls.length, i + 2)
    }
    await answer('d', 'synced')
    await tick(240 * MIN)
    assert.equal(calls.length, 6, 'a repaired account is not tried again')
    assert.deepEqual([repairs.stats.failed, repairs.stats.repaired], [5, 1])
    assert.ok(logs.includes('repair failed unexpectedly'), 'a thrown error is logged')
    await repairs.stop()
  })

  it('is done with an account it was refused (taken down or throttled meanwhile)', async (t) => {
    const { repairs, calls, answer, tick } = rig(t)
    repairs.enqueue('d', 1)
    repairs.start()
    await settle()
    await answer('d', 'refused')
    await tick(240 * MIN)
    assert.deepEqual(calls, ['d'])
    // Done, so a later desynchronization queues it again.
    repairs.enqueue('d', 1)
    await settle()
    assert.deepEqual(calls, ['d', 'd'])
    await answer('d')
    await repairs.stop()
  })

  it('runs the accounts queued before it started', async (t) => {
    const { repairs, calls, answer } = rig(t)
    repairs.enqueue('early', 1)
    await settle()
    assert.deepEqual(calls, [], 'nothing runs before start')
    repairs.start()
    await settle()
    assert.deepEqual(calls, ['early'])
    await answer('early')
    await repairs.stop()
  })

  it('sweeps the stored desynchronized accounts at start and every 10 minutes', async (t) => {
    await using db = await tempDatabase()
    const host = await db.db.hosts.create({
      hostname: 'pds.example',
      ssl: true,
      accountLimit: 5000,
    })
    const T = '2026-01-01T00:00:00.000Z'
    const row = (i: number, localStatus: 'active' | 'desynchronized') => ({
      did: `did:plc:${String(i).padStart(24, '0')}`,
      hostId: host.id,
      localStatus,
      upstreamStatus: 'active',
      rev: null,
      commitCid: null,
      dataCid: null,
      handle: null,
      createdAt: T,
      updatedAt: T,
    })
    // 1001 desynchronized accounts (more than one page of the sweep) among active ones.
    const rows = Array.from({ length: 1201 }, (_, i) =>
      row(i, i % 6 === 5 ? 'active' : 'desynchronized'),
    )
    await db.db.accounts.upsertMany(rows)
    const desynchronized = rows.filter((r) => r.localStatus === 'desynchronized').map((r) => r.did)
    assert.equal(desynchronized.length, 1001)
    const { repairs, calls, answer, tick } = rig(t, {
      concurrency: 1,
      listDesynchronized: async (after, limit) =>
        (await db.db.accounts.listByLocalStatus('desynchronized', after, limit)).map((r) => ({
          did: r.did,
          hostId: r.hostId,
        })),
    })
    repairs.start()
    // One host: one repair at a time, each answered as it starts.
    while (calls.length < 1001 || repairs.stats.running > 0) {
      await until(() => repairs.stats.running > 0)
      await answer(calls.at(-1)!)
    }
    assert.deepEqual([...calls].sort(), desynchronized.sort())
    assert.equal(repairs.stats.repaired, 1001)
    // Repaired accounts are stored active again, but for one (desynchronized once more since).
    await db.db.accounts.upsertMany(rows.map((r) => ({ ...r, localStatus: 'active' as const })))
    const stuck = row(0, 'desynchronized')
    await db.db.accounts.upsertMany([stuck])
    await tick(10 * MIN - 1)
    await settle()
    assert.equal(calls.length, 1001, 'no sweep before 10 minutes')
    await tick(1)
    await until(() => calls.length > 1001)
    assert.deepEqual(calls.slice(1001), [stuck.did])
    await tick(10 * MIN)
    await settle()
    assert.deepEqual(calls.slice(1001), [stuck.did], 'a running repair is not queued twice')
    await answer(stuck.did)
    await repairs.stop()
  })

  it('stop() waits for the repairs running, then starts nothing more (nor any retry)', async (t) => {
    const { repairs, calls, answer, tick } = rig(t)
    for (const [did, host] of [
      ['a1', 1],
      ['b1', 2],
      ['c1', 3],
      ['a2', 1],
    ] as const)
      repairs.enqueue(did, host)
    repairs.start()
    await settle()
    await answer('c1', 'failed') // its retry is due in a minute
    let stopped = false
    const stopping = repairs.stop().then(() => {
      stopped = true
    })
    await settle()
    assert.equal(stopped, false, 'a1 and b1 are still running')
    await answer('a1')
    assert.equal(stopped, false, 'b1 is still running')
    await answer('b1')
    await stopping
    assert.equal(stopped, true)
    await tick(10 * MIN)
    assert.deepEqual(calls, ['a1', 'b1', 'c1'], 'a2 and c1’s retry never ran')
  })
})
