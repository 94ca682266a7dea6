// The main thread's rules for what links report (link-notices.ts), on a real status machine with
// a clock of the test's: a rate hold that ends before it throttles the host is forgotten (a later
// status check must not throttle a host that flows); a throttled host flows again; FutureCursor
// answers reset the cursor only when enough came over the required time with no event between;
// `#info` names a PDS made up are counted as `other`; a failed dial that puts the host offline
// stops its connection.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { silentLogger } from '../observability/logger.ts'
import { HostStatusMachine } from './host-status.ts'
import { HostNotices } from './link-notices.ts'

const HOST = { id: 1, hostname: 'pds.example.com', ssl: true }
const MIN = 60_000

function rig(opts: { offlineAfterFailures?: number } = {}) {
  let clock = 1_000_000_000
  const expired: number[] = []
  const disconnected: number[] = []
  const status = new HostStatusMachine({
    now: () => clock,
    onTransition: () => {},
    throttledAfterMs: 5 * MIN,
    ...opts,
  })
  status.load(HOST.id, 'active')
  const notices = new HostNotices({
    logger: silentLogger(),
    now: () => clock,
    status,
    futureCursorResets: { count: 3, afterMs: 10 * MIN },
    onCursorExpired: (id) => expired.push(id),
    disconnect: (id) => disconnected.push(id),
  })
  return { status, notices, expired, disconnected, advance: (ms: number) => (clock += ms) }
}

describe('link notices', () => {
  it('a rate hold that ended is forgotten: a later check does not throttle a flowing host', () => {
    const { status, notices, advance } = rig()
    notices.rateLimited(HOST.id, 1_000)
    advance(2_000)
    notices.rateOk(HOST.id) // the next event passed
    advance(10 * MIN)
    status.tick()
    assert.equal(status.status(HOST.id), 'active')
  })

  it('held long enough, the host is throttled; an event that passes makes it active', () => {
    const { status, notices, advance } = rig()
    notices.rateLimited(HOST.id, 6 * MIN)
    assert.equal(status.status(HOST.id), 'throttled')
    advance(1_000)
    notices.rateOk(HOST.id)
    assert.equal(status.status(HOST.id), 'active')
  })

  it('FutureCursor resets the cursor after enough answers over the time, none between events', () => {
    const { notices, expired, advance } = rig()
    notices.upstreamError(HOST, 'FutureCursor', undefined)
    advance(11 * MIN)
    notices.upstreamError(HOST, 'FutureCursor', undefined)
    notices.eventsArrived(HOST.id) // the host sent events again: the count starts over
    assert.equal(notices.futureCursorAnswers(HOST.id), 0)
    notices.upstreamError(HOST, 'FutureCursor', undefined)
    advance(11 * MIN)
    notices.upstreamError(HOST, 'FutureCursor', undefined)
    assert.deepEqual(expired, [])
    notices.upstreamError(HOST, 'FutureCursor', undefined)
    assert.deepEqual(expired, [HOST.id])
    assert.equal(notices.cursorResets, 1)
  })

  it('counts #info by known name, anything else as other', () => {
    const { notices } = rig()
    notices.info(HOST, 'OutdatedCursor', undefined)
    notices.info(HOST, 'SomethingAPdsMadeUp', 'x'.repeat(1_000))
    assert.deepEqual(
      [...notices.infoCounts],
      [
        ['OutdatedCursor', 1],
        ['other', 1],
      ],
    )
  })

  it('a failed dial that puts the host offline stops its connection', () => {
    const { status, notices, disconnected } = rig({ offlineAfterFailures: 2 })
    notices.stateChange(HOST, 'disconnected', 'refused')
    assert.deepEqual(disconnected, [])
    notices.stateChange(HOST, 'disconnected', 'refused')
    assert.equal(status.status(HOST.id), 'offline')
    assert.deepEqual(disconnected, [HOST.id])
  })
})
