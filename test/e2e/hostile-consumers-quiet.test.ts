// Hostile consumers that go quiet (issue 11): half-open sockets (the upgrade completes, then the
// peer reads nothing and answers nothing) and ping-mute sockets (they read, but never answer a
// ping) are dropped after the ping timeout, counted as such and not as too slow, while an honest
// consumer stays and receives every event in order. `RELAY_TEST_LONG=1` runs more of each.
import assert from 'node:assert/strict'
import type { Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { WebSocket } from 'ws'
import {
  assertHonestComplete,
  drainUntilClosed,
  HALF_OPEN,
  healthy,
  metrics,
  openFds,
  PING_MUTE,
  rawSubscriber,
  type Stand,
  SUBSCRIBE,
  stand,
  tearDown,
  wsClosed,
} from '../support/consumer-stand.ts'
import { eventually } from '../support/relay-harness.ts'

describe('hostile consumers: half-open and ping-mute sockets', () => {
  let s: Stand
  let baselineFds = 0
  const PING_MS = 1500

  before(async () => {
    s = await stand('klm', { consumerPingIntervalMs: PING_MS })
    s.stream.start(50)
    assert.equal(await healthy(s.relay), 200)
    await metrics(s.relay)
    baselineFds = openFds()
  })
  after(() => tearDown(s))

  test(`${HALF_OPEN} half-open and ${PING_MUTE} ping-mute consumers are dropped after the ping timeout`, {
    timeout: 120_000,
  }, async () => {
    const port = s.relay.relay.address().port
    const before = s.relay.relay.fanout.stats().pingTimeouts
    const halfOpen: Socket[] = []
    for (let i = 0; i < HALF_OPEN; i++) halfOpen.push(await rawSubscriber(port))
    const mute = Array.from({ length: PING_MUTE }, () => {
      // Reads everything, but never answers a ping.
      const ws = new WebSocket(`${s.relay.wsUrl}${SUBSCRIBE}`, { autoPong: false })
      let events = 0
      let pings = 0
      ws.on('message', () => events++)
      ws.on('ping', () => pings++)
      ws.on('error', () => {})
      return { ws, closed: wsClosed(ws), events: () => events, pings: () => pings }
    })
    const codes = await Promise.all(mute.map((m) => m.closed))
    for (const [i, m] of mute.entries()) {
      assert.ok(m.pings() >= 1, 'it was pinged')
      assert.ok(m.events() > 0, 'it was served while it was there: it was not slow')
      assert.equal(codes[i], 1006, 'cut without a close handshake')
    }
    await eventually(() => s.relay.relay.fanout.count === 1, 30_000, 'only the honest one left')
    assert.equal(s.relay.relay.fanout.stats().pingTimeouts - before, HALF_OPEN + PING_MUTE)
    assert.equal(s.relay.relay.fanout.stats().tooSlow, 0, 'dropped for silence, not for speed')
    await Promise.all(halfOpen.map(drainUntilClosed))
    const m = await metrics(s.relay)
    assert.equal(
      m.get('relay_consumer_rejections_total{reason="ping-timeout"}'),
      before + HALF_OPEN + PING_MUTE,
    )
    assert.equal(await healthy(s.relay), 200)
    await eventually(() => openFds() <= baselineFds + 16, 30_000, 'descriptors back to baseline')
    // The honest consumer answered every ping (its client does so on its own) and stays.
    await new Promise((r) => setTimeout(r, 2 * PING_MS))
    assert.equal(s.honest.closed, false)
    await assertHonestComplete(s)
  })
})
