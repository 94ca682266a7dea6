// Hosts' upstream side over real sockets (a fake PDS on loopback): the one flow control holds a
// host back when its events in flight reach `--host-concurrency` and lets it go when half have
// settled; a host over its rate limits is held back (never dropped) and counted; repeated
// FutureCursor answers over the required time reset the host's cursor (through the owner);
// a stopped link resumes after the last event it delivered, and its events still in flight
// hold the cursor back; a full cursor window pauses the host until the cursor moves.
import assert from 'node:assert/strict'
import { describe, it, type TestContext, test } from 'node:test'
import { silentLogger } from '../observability/logger.ts'
import type { UpstreamEvent } from '../protocol/envelope.ts'
import { encodeErrorFrame } from '../protocol/frame.ts'
import { FakePds } from '../upstream/testing/fake-pds.ts'
import { identityFrame } from '../upstream/testing/frames.ts'
import { turns } from '../upstream/testing/setup.ts'
import { CURSOR_WINDOW_PER_SLOT } from './flow-control.ts'
import { HostLinks, RESUBSCRIBE_PER_SECOND, resubscribeSpreadMs } from './host-links.ts'
import { HostStatusMachine } from './host-status.ts'
import { HostNotices } from './link-notices.ts'
import { HostRateLimiter } from './rate-limit.ts'

interface Rig {
  readonly pds: FakePds
  readonly links: HostLinks
  readonly notices: HostNotices
  readonly limiter: HostRateLimiter
  readonly seqs: number[]
  readonly expired: number[]
  until(predicate: () => boolean, what: string): Promise<void>
}

async function rig(
  t: TestContext,
  opts: { hostConcurrency?: number; cursor?: number | null; now?: () => number } = {},
): Promise<Rig> {
  const pds = await FakePds.start()
  const seqs: number[] = []
  const expired: number[] = []
  const limiter = new HostRateLimiter()
  const now = opts.now ?? Date.now
  const notices: HostNotices = new HostNotices({
    logger: silentLogger(),
    now,
    status: new HostStatusMachine({ now, onTransition: () => {} }),
    futureCursorResets: { count: 3, afterMs: 1_000 },
    onCursorExpired: (id) => expired.push(id),
    disconnect: (id) => void links.disconnect(id),
  })
  const links: HostLinks = new HostLinks({
    userAgent: 'host-links-test',
    hostConcurrency: opts.hostConcurrency ?? 40,
    logger: silentLogger(),
    notices,
    limiter,
    onEvent: (_id, msg: UpstreamEvent) => seqs.push(msg.seq),
    onDrop: () => {},
  })
  links.link({ id: 1, hostname: pds.hostname, ssl: false }, opts.cursor ?? 0)
  t.after(async () => {
    await links.stop()
    await pds.close()
  })
  const until = async (predicate: () => boolean, what: string) => {
    const end = Date.now() + 5_000
    while (!predicate()) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 5))
    }
  }
  return { pds, links, notices, limiter, seqs, expired, until }
}

describe('host links', () => {
  // Moved from the connection's own tests when the connection stopped pausing itself: the
  // host's one flow control now holds it back, with the same observable effect.
  it('pauses the host when its events in flight reach --host-concurrency and resumes when half have settled', async (t) => {
    const { pds, links, seqs, until } = await rig(t, { hostConcurrency: 4 })
    links.connect(1)
    const sub = await pds.next()
    for (let s = 1; s <= 10; s++) await sub.send(identityFrame(s))
    await until(() => seqs.length === 4, 'first 4')
    await turns()
    assert.deepEqual(seqs, [1, 2, 3, 4])
    assert.ok(links.connection(1)!.paused)
    assert.deepEqual([...links.get(1)!.flow.reasons], ['in-flight'])
    links.settled(1, 1, true)
    await turns()
    assert.equal(seqs.length, 4) // 3 in flight: above half of 4
    links.settled(1, 2, true)
    await until(() => seqs.length === 6, 'two more')
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6])
    for (const s of [3, 4, 5, 6, 7, 8]) links.settled(1, s, true)
    await until(() => seqs.length === 10, 'rest')
    assert.equal(links.connection(1)!.cursor, 8)
  })

  it('accepted events settle without completing; the log flush completes them', async (t) => {
    const { pds, links, seqs, until } = await rig(t)
    links.connect(1)
    const sub = await pds.next()
    for (let s = 1; s <= 3; s++) await sub.send(identityFrame(s))
    await until(() => seqs.length === 3, 'three events')
    for (const s of [1, 2, 3]) links.settled(1, s, false)
    assert.equal(links.get(1)!.cursor, 0, 'accepted, not yet written')
    links.complete(1, 1)
    links.complete(1, 3)
    assert.equal(links.get(1)!.cursor, 1)
    links.complete(1, 2)
    assert.equal(links.get(1)!.cursor, 3)
  })

  it('holds a host over its rate limits back, processes every event, and counts the pause', async (t) => {
    const { pds, links, limiter, seqs, until } = await rig(t)
    limiter.set(1, { perSecond: 2, perHour: 1_000, perDay: 10_000 })
    links.connect(1)
    const sub = await pds.next()
    for (let s = 1; s <= 6; s++) await sub.send(identityFrame(s))
    await until(() => seqs.length === 6, 'every event, slowed not dropped')
    assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6])
    assert.ok(links.ratePauses >= 1)
  })

  it('resets the cursor only after repeated FutureCursor answers over the required time', async (t) => {
    let clock = 1_000_000
    const { pds, links, notices, expired, until } = await rig(t, { now: () => clock })
    links.connect(1)
    for (let i = 1; i <= 3; i++) {
      const sub = await pds.next()
      await sub.send(futureCursorFrame())
      await until(() => notices.futureCursorAnswers(1) === i || expired.length > 0, `answer ${i}`)
      if (i === 2) clock += 2_000
    }
    await until(() => expired.length === 1, 'the reset asked of the owner')
    assert.deepEqual(expired, [1])
    assert.equal(notices.cursorResets, 1)
  })

  it('a link connected again resumes after the last event its stopped connection delivered', async (t) => {
    const { pds, links, seqs, until } = await rig(t, { cursor: 10 })
    links.connect(1)
    const sub = await pds.next()
    assert.equal(sub.cursor, '10')
    for (const s of [11, 12, 13]) await sub.send(identityFrame(s))
    await until(() => seqs.length === 3, 'three events')
    links.settled(1, 11, true) // 12 and 13 still in flight when the host is stopped
    await links.disconnect(1)
    assert.equal(links.get(1)!.cursor, 11)
    links.connect(1)
    const again = await pds.next()
    assert.equal(again.cursor, '13', 'not 11: 12 and 13 are still being processed')
  })

  it('a new connection never carries the cursor past events its stopped one still has in flight', async (t) => {
    // Stored as is, a cursor of 14 here would skip 12 and 13 for good if the relay crashed
    // before they were written.
    const { pds, links, seqs, until } = await rig(t, { cursor: 10 })
    links.connect(1)
    const sub = await pds.next()
    for (const s of [11, 12, 13]) await sub.send(identityFrame(s))
    await until(() => seqs.length === 3, 'three events')
    links.settled(1, 11, true)
    await links.disconnect(1)
    links.connect(1)
    const again = await pds.next()
    await again.send(identityFrame(14))
    await until(() => seqs.length === 4, 'the new connection’s event')
    links.settled(1, 14, true)
    assert.equal(links.get(1)!.cursor, 11, 'held back by 12 and 13')
    links.settled(1, 13, true)
    assert.equal(links.get(1)!.cursor, 11)
    links.settled(1, 12, true)
    assert.equal(links.get(1)!.cursor, 14, 'the old events done: the running connection’s cursor')
  })

  it('pauses a host whose cursor window is full (one slow event holds the cursor) and resumes at half', async (t) => {
    // --host-concurrency 1: the window bound is CURSOR_WINDOW_PER_SLOT events. Every event is
    // settled (so in-flight never holds the host) but none is written, as when one account's
    // event is slow and the log cannot complete the ones after it.
    const { pds, links, seqs, until } = await rig(t, { hostConcurrency: 1 })
    links.connect(1)
    const sub = await pds.next()
    const total = CURSOR_WINDOW_PER_SLOT + 5
    for (let s = 1; s <= total; s++) await sub.send(identityFrame(s))
    for (let n = 1; n <= CURSOR_WINDOW_PER_SLOT; n++) {
      await until(() => seqs.length >= n, `event ${n}`)
      links.settled(1, n, false)
    }
    await turns()
    assert.equal(seqs.length, CURSOR_WINDOW_PER_SLOT, 'nothing read past the window')
    assert.deepEqual([...links.get(1)!.flow.reasons], ['cursor-window'])
    for (let n = 2; n <= CURSOR_WINDOW_PER_SLOT; n++) links.complete(1, n)
    assert.equal(links.get(1)!.flow.paused, true, 'event 1 still holds every later one')
    links.complete(1, 1)
    assert.equal(links.get(1)!.cursor, CURSOR_WINDOW_PER_SLOT)
    await until(() => seqs.length === CURSOR_WINDOW_PER_SLOT + 1, 'reading again')
  })

  it('a host paused by a full cursor window flows again on its next connection', async (t) => {
    const { pds, links, seqs, until } = await rig(t, { hostConcurrency: 1 })
    links.connect(1)
    const sub = await pds.next()
    for (let s = 1; s <= CURSOR_WINDOW_PER_SLOT; s++) await sub.send(identityFrame(s))
    for (let n = 1; n <= CURSOR_WINDOW_PER_SLOT; n++) {
      await until(() => seqs.length >= n, `event ${n}`)
      links.settled(1, n, false)
    }
    assert.equal(links.get(1)!.flow.paused, true)
    await links.disconnect(1)
    links.connect(1)
    const again = await pds.next()
    assert.equal(again.cursor, String(CURSOR_WINDOW_PER_SLOT), 'after the last event received')
    await again.send(identityFrame(CURSOR_WINDOW_PER_SLOT + 1))
    await until(() => seqs.length === CURSOR_WINDOW_PER_SLOT + 1, 'the new connection reads')
    assert.equal(links.get(1)!.cursor, 0, 'the old connection’s events are still not written')
    for (let n = 1; n <= CURSOR_WINDOW_PER_SLOT; n++) links.complete(1, n)
    assert.equal(links.get(1)!.cursor, CURSOR_WINDOW_PER_SLOT)
  })
})

function futureCursorFrame(): Uint8Array {
  return encodeErrorFrame('FutureCursor', 'Cursor in the future.')
}

test('a restart spreads its dials over at least 5 s, at most 100 hosts a second', () => {
  assert.equal(resubscribeSpreadMs(0), 5_000)
  assert.equal(resubscribeSpreadMs(20), 5_000)
  assert.equal(resubscribeSpreadMs(500), 5_000)
  assert.equal(resubscribeSpreadMs(3_000), 30_000)
  assert.equal(resubscribeSpreadMs(3_001), 30_010)
  // The rate it promises: dials per second over the spread never exceed the constant.
  for (const n of [1, 499, 501, 3_000, 100_000])
    assert.ok(n / (resubscribeSpreadMs(n) / 1000) <= RESUBSCRIBE_PER_SECOND)
})

describe('host links: restart skip sets', () => {
  it('keep the skip set when the first connection ends before any event, and drop it on a cursor reset', async (t) => {
    const { pds, links, seqs, until } = await rig(t, { cursor: 10 })
    links.get(1)!.recoverSkips(new Set([11, 12]))
    links.connect(1)
    await pds.next()
    // Stopped before any event (the host went offline, or an operator blocked it).
    await links.disconnect(1)
    links.connect(1)
    const sub = await pds.next()
    for (const s of [11, 12, 13]) await sub.send(identityFrame(s))
    await until(() => seqs.length === 1, 'the one new event')
    assert.deepEqual(seqs, [13])
    // From the live head, the old seqs mean nothing: nothing is skipped.
    links.connect(1, { fromLiveHead: true })
    const fresh = await pds.next()
    await fresh.send(identityFrame(11))
    await until(() => seqs.length === 2, 'seq 11 after the reset')
    assert.deepEqual(seqs, [13, 11])
  })
})
