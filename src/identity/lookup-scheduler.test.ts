import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { LookupScheduler, type Outcome } from './lookup-scheduler.ts'

interface Pending {
  key: string
  signal: AbortSignal
  finish: (value: number) => void
  fail: (err: unknown) => void
}

function scheduler(maxConcurrent: number, maxQueue: number) {
  const pending: Pending[] = []
  const settled: [string, Outcome<number>, boolean][] = []
  const s = new LookupScheduler<number, string>({
    maxConcurrent,
    maxQueue,
    fetch: (key, signal) =>
      new Promise<number>((finish, fail) => pending.push({ key, signal, finish, fail })),
    settle: (key, outcome, detached) => {
      settled.push([key, outcome, detached])
      if (!outcome.ok) throw outcome.error
      return `${key}=${outcome.value}${detached ? ' (detached)' : ''}`
    },
    aborted: (key) => new Error(`aborted ${key}`),
  })
  return { s, pending, settled }
}

describe('LookupScheduler', () => {
  it('runs at most maxConcurrent, FIFO, and reports fullness', async () => {
    const { s, pending } = scheduler(1, 2)
    const a = s.run('a')
    const b = s.run('b')
    assert.equal(s.isFull(), false)
    const c = s.run('c')
    assert.equal(s.isFull(), true, 'one running, two queued')
    assert.deepEqual([s.running, s.queued], [1, 2])
    assert.deepEqual(
      pending.map((p) => p.key),
      ['a'],
    )
    pending[0]?.finish(1)
    assert.equal(await a, 'a=1')
    assert.deepEqual(
      pending.map((p) => p.key),
      ['a', 'b'],
    )
    pending[1]?.fail(new Error('boom'))
    await assert.rejects(b, /boom/)
    pending[2]?.finish(3)
    assert.equal(await c, 'c=3')
    assert.deepEqual([s.running, s.queued, s.has('c')], [0, 0, false])
  })

  it('joins a lookup for the same key', async () => {
    const { s, pending, settled } = scheduler(4, 4)
    const first = s.run('k')
    assert.equal(s.has('k'), true)
    const second = s.run('k')
    assert.equal(pending.length, 1)
    pending[0]?.finish(7)
    assert.deepEqual(await Promise.all([first, second]), ['k=7', 'k=7'])
    assert.equal(settled.length, 1, 'settled once per lookup')
  })

  it('detach: a running lookup settles as detached, a queued one is kept', async () => {
    const { s, pending } = scheduler(1, 4)
    const running = s.run('r')
    const queued = s.run('q')
    s.detach('r')
    s.detach('q')
    assert.equal(s.has('r'), false)
    assert.equal(s.has('q'), true, 'queued lookup still joinable')
    const again = s.run('r') // a fresh lookup, queued behind q
    pending[0]?.finish(1)
    assert.equal(await running, 'r=1 (detached)')
    pending[1]?.finish(2)
    assert.equal(await queued, 'q=2')
    pending[2]?.finish(3)
    assert.equal(await again, 'r=3')
  })

  it('abandons a lookup when its last waiter aborts', async () => {
    const { s, pending, settled } = scheduler(1, 4)
    const ac = new AbortController()
    const p = s.run('x', ac.signal)
    ac.abort()
    await assert.rejects(p, /aborted x/)
    assert.equal(pending[0]?.signal.aborted, true)
    pending[0]?.fail(new Error('aborted upstream'))
    await sleep(0)
    assert.equal(settled.length, 0, 'abandoned lookups are not settled')
    assert.equal(s.running, 0)
  })
})
