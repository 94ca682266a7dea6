// The per-host pacer on a test clock (node:test's mocked timers and the pacer's injected clock
// moving together): a host is asked at most `crawl_rate` times per second, in arrival order,
// whatever the number of callers; hosts do not share slots; a quiet host starts again at once
// without a backlog; a 429's reset time holds the host back; a caller that stops (an aborted
// signal) stops waiting.
import assert from 'node:assert/strict'
import { describe, it, type TestContext } from 'node:test'
import { HostPacer } from './pacer.ts'

/** A pacer whose clock is the mocked timers' clock, and the order its callers got slots. */
function rig(t: TestContext) {
  t.mock.timers.enable({ apis: ['setTimeout'], now: 0 })
  let now = 0
  const pacer = new HostPacer(() => now)
  const got: string[] = []
  const take = (name: string, hostId: number, perSecond: number, signal?: AbortSignal) =>
    pacer.take(hostId, perSecond, signal).then(() => void got.push(`${name}@${now}`))
  /** Moves the clock and the timers by `ms` and lets the woken callers run. */
  const advance = async (ms: number) => {
    now += ms
    t.mock.timers.tick(ms)
    for (let i = 0; i < 5; i++) await Promise.resolve()
  }
  return { pacer, got, take, advance }
}

describe('HostPacer', () => {
  it('hands a host one slot per 1/crawl_rate second, in arrival order', async (t) => {
    const { got, take, advance } = rig(t)
    for (const name of ['a', 'b', 'c', 'd']) void take(name, 1, 4)
    await advance(0)
    assert.deepEqual(got, ['a@0'])
    await advance(249)
    assert.deepEqual(got, ['a@0'], 'not before 250 ms at 4 per second')
    await advance(1)
    assert.deepEqual(got, ['a@0', 'b@250'])
    await advance(250)
    await advance(250)
    assert.deepEqual(got, ['a@0', 'b@250', 'c@500', 'd@750'])
  })

  it('keeps hosts apart: a busy host does not delay another', async (t) => {
    const { got, take, advance } = rig(t)
    for (const name of ['a1', 'a2', 'a3']) void take(name, 1, 1)
    void take('b1', 2, 1)
    await advance(0)
    assert.deepEqual(got.sort(), ['a1@0', 'b1@0'])
    await advance(1000)
    assert.deepEqual(got.sort(), ['a1@0', 'a2@1000', 'b1@0'])
  })

  it('lets a host that was quiet start again at once, with no backlog of unused slots', async (t) => {
    const { got, take, advance } = rig(t)
    void take('a', 1, 2)
    await advance(0)
    await advance(10_000)
    void take('b', 1, 2)
    void take('c', 1, 2)
    await advance(0)
    assert.deepEqual(got, ['a@0', 'b@10000'], 'slots not used while quiet are not saved up')
    await advance(500)
    assert.deepEqual(got, ['a@0', 'b@10000', 'c@10500'])
  })

  it('holds a host back until a 429’s reset, then paces again from there', async (t) => {
    const { pacer, got, take, advance } = rig(t)
    void take('a', 1, 10)
    await advance(0)
    pacer.holdUntil(1, 60_000)
    pacer.holdUntil(1, 5_000) // an earlier hold does not shorten a later one
    void take('b', 1, 10)
    void take('c', 1, 10)
    void take('other-host', 2, 10)
    await advance(0)
    assert.deepEqual(got, ['a@0', 'other-host@0'], 'only the host that answered 429 is held')
    await advance(59_999)
    assert.deepEqual(got, ['a@0', 'other-host@0'])
    await advance(1)
    assert.deepEqual(got, ['a@0', 'other-host@0', 'b@60000'])
    await advance(100)
    assert.deepEqual(got, ['a@0', 'other-host@0', 'b@60000', 'c@60100'])
  })

  it('holds a host for a 429 at most 15 minutes, and 1 minute when it names no reset', async (t) => {
    const { pacer, got, take, advance } = rig(t)
    pacer.rateLimited(1, 4_000_000_000_000)
    pacer.rateLimited(2, undefined)
    void take('far', 1, 100)
    void take('unnamed', 2, 100)
    await advance(60_000)
    assert.deepEqual(got, ['unnamed@60000'])
    await advance(14 * 60_000)
    assert.deepEqual(got, ['unnamed@60000', 'far@900000'])
  })

  it('stops waiting when the caller’s signal aborts', async (t) => {
    const { take, advance, got } = rig(t)
    void take('a', 1, 1)
    const stop = new AbortController()
    const waiting = take('b', 1, 1, stop.signal)
    await advance(0)
    const reason = new Error('stopping')
    stop.abort(reason)
    await assert.rejects(waiting, (err) => err === reason)
    await advance(5000)
    assert.deepEqual(got, ['a@0'])
  })
})
