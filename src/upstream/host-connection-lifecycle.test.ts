// HostConnection over real sockets: pausing, completion and the cursor, reconnects, refusal,
// liveness and stopping.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { identityFrame } from './testing/frames.ts'
import { describeEachSocketPlace, liveTimers, timerTicks, turns } from './testing/setup.ts'

describeEachSocketPlace('HostConnection lifecycle', (rig) => {
  it('pause stops delivery; resume continues in order with nothing lost', async (t) => {
    const { pds, rec, conn } = await rig(t, { startCursor: 0 })
    rec.onEventHook = (msg) => {
      if (msg.seq === 2) conn.pause()
    }
    conn.start()
    const sub = await pds.next()
    for (const s of [1, 2, 3, 4, 5, 6]) await sub.send(identityFrame(s))
    await rec.until(() => rec.seqs.length === 2, 'events 1-2')
    await turns()
    assert.deepEqual(rec.seqs, [1, 2])
    assert.ok(conn.paused)
    await sub.send(identityFrame(7))
    await turns()
    assert.deepEqual(rec.seqs, [1, 2])
    conn.resume()
    await rec.until(() => rec.seqs.length === 7, 'all events')
    assert.deepEqual(rec.seqs, [1, 2, 3, 4, 5, 6, 7])
    assert.equal(rec.drops.length, 0)
  })

  it('advances the cursor only over completed events when completion is out of order', async (t) => {
    const { pds, rec, conn } = await rig(t, { startCursor: 10 })
    conn.start()
    const sub = await pds.next()
    for (const s of [11, 12, 13, 14, 15]) await sub.send(identityFrame(s))
    await rec.until(() => rec.seqs.length === 5, '5 events')
    const seen: (number | null)[] = []
    for (const s of [13, 12, 15, 11, 14]) {
      conn.complete(s)
      seen.push(conn.cursor)
    }
    assert.deepEqual(seen, [10, 10, 10, 13, 15])
    assert.equal(conn.inFlight, 0)
  })

  it('reconnects from the last seq and does not deliver anything twice', async (t) => {
    const { pds, rec, conn } = await rig(t, { startCursor: 0 })
    conn.start()
    const first = await pds.next()
    for (const s of [1, 2, 3]) await first.send(identityFrame(s))
    await rec.until(() => rec.seqs.length === 3, '3 events')
    conn.complete(1)
    first.socket.close(1001, 'going away')
    const second = await pds.next()
    assert.equal(second.cursor, '3') // in-flight 2 and 3 are not asked for again
    for (const s of [2, 3, 4]) await second.send(identityFrame(s))
    await rec.until(() => rec.seqs.length === 4, 'event 4')
    assert.deepEqual(rec.seqs, [1, 2, 3, 4])
    assert.deepEqual(rec.drops, [
      { reason: 'seq-not-increasing', seq: 2 },
      { reason: 'seq-not-increasing', seq: 3 },
    ])
    assert.equal(conn.cursor, 1)
    for (const s of [2, 3, 4]) conn.complete(s)
    assert.equal(conn.cursor, 4)
    assert.equal(conn.stats.reconnects, 1)
    const closed = rec.log.find((r) => r.kind === 'state' && r.state === 'disconnected')
    assert.match(closed?.kind === 'state' ? closed.detail : '', /1001: going away/)
  })

  it('completes seqs accepted before a crash silently (skipSeqs)', async (t) => {
    const { pds, rec, conn } = await rig(t, { startCursor: 10, skipSeqs: new Set([5, 11, 13]) })
    conn.start()
    const sub = await pds.next()
    for (const s of [11, 12, 13, 14]) await sub.send(identityFrame(s))
    await rec.until(() => rec.seqs.length === 2, '2 events')
    assert.deepEqual(rec.seqs, [12, 14])
    assert.equal(rec.drops.length, 0)
    assert.equal(conn.stats.skippedAfterRecovery, 2)
    assert.equal(conn.cursor, 11)
    conn.complete(12)
    assert.equal(conn.cursor, 13)
    conn.complete(14)
    assert.equal(conn.cursor, 14)
  })

  it('refuses a host whose Server header says it is a relay, and does not retry', async (t) => {
    const { pds, rec, conn } = await rig(
      t,
      { startCursor: 5 },
      { serverHeader: 'atproto-relay/1.0 (+https://relay.example.com)' },
    )
    conn.start()
    await rec.until(() => conn.state === 'refused', 'refused')
    const refused = rec.log.at(-1)
    assert.match(refused?.kind === 'state' ? refused.detail : '', /relay/)
    assert.match(conn.stats.lastError ?? '', /Server: atproto-relay/)
    assert.equal(rec.seqs.length, 0)
    assert.equal(conn.connected, false)
    await timerTicks(10, 5) // a reconnect (backoff under 20 ms) would have been dialled by now
    await turns()
    assert.equal(pds.all.length, 1)
    assert.equal(conn.state, 'refused')
  })

  it('treats a missing pong as a dead connection and reconnects', async (t) => {
    const { pds, rec, conn } = await rig(
      t,
      { startCursor: 3, pingIntervalMs: 15 },
      { autoPong: false },
    )
    conn.start()
    const first = await pds.next()
    await first.closed
    await rec.until(() => rec.states.includes('disconnected'), 'disconnected')
    const dead = rec.log.find((r) => r.kind === 'state' && r.state === 'disconnected')
    assert.match(dead?.kind === 'state' ? dead.detail : '', /no pong/)
    const second = await pds.next()
    assert.equal(second.cursor, '3')
  })

  it('does not count unanswered pings while paused (pongs cannot be read)', async (t) => {
    const { pds, rec, conn } = await rig(
      t,
      { startCursor: 0, pingIntervalMs: 5 },
      { autoPong: false },
    )
    rec.onStateHook = (state) => {
      if (state === 'connected') conn.pause()
    }
    conn.start()
    const sub = await pds.next()
    await rec.until(() => conn.connected, 'connected')
    await sub.send(identityFrame(1))
    await timerTicks(10, 5) // many ping intervals fire first
    assert.ok(conn.connected)
    assert.deepEqual(rec.states, ['connecting', 'connected'])
    assert.deepEqual(rec.seqs, [])
  })

  it('resets the backoff after a connection that stayed healthy', async (t) => {
    let clock = 1_000_000
    const { pds, rec, conn } = await rig(t, {
      startCursor: 0,
      now: () => clock,
      healthyAfterMs: 60_000,
    })
    conn.start()
    for (let i = 1; i <= 2; i++) {
      const sub = await pds.next()
      await sub.send(Uint8Array.of(0x1c))
      await sub.closed
      await rec.until(() => conn.stats.consecutiveFailures === i, `failure ${i}`)
    }
    const third = await pds.next()
    await rec.until(() => conn.connected, 'connected')
    clock += 61_000
    third.socket.close(1000)
    await rec.until(() => rec.states.filter((s) => s === 'disconnected').length === 3, 'closed')
    assert.equal(conn.stats.consecutiveFailures, 0)
  })

  it('resets the backoff after a short connection that delivered new events (a flaky host that works)', async (t) => {
    const { pds, rec, conn } = await rig(t, { startCursor: 0, healthyAfterMs: 60_000 })
    conn.start()
    for (let i = 1; i <= 2; i++) {
      const sub = await pds.next()
      await sub.send(Uint8Array.of(0x1c))
      await sub.closed
      await rec.until(() => conn.stats.consecutiveFailures === i, `failure ${i}`)
    }
    const third = await pds.next()
    await third.send(identityFrame(1))
    await rec.until(() => rec.seqs.length === 1, 'an event')
    third.socket.close(1000)
    await rec.until(() => rec.states.filter((s) => s === 'disconnected').length === 3, 'closed')
    assert.equal(conn.stats.consecutiveFailures, 0, 'reset though it lasted well under a minute')
  })

  it('stop() closes the socket, cancels reconnects and leaves no timers', async (t) => {
    const before = liveTimers()
    const { pds, rec, conn } = await rig(t, { startCursor: 0 })
    conn.start()
    const sub = await pds.next()
    await rec.until(() => conn.connected, 'connected')
    conn.pause()
    await conn.stop()
    await sub.closed
    assert.equal(conn.state, 'stopped')
    assert.equal(conn.connected, false)
    assert.ok(liveTimers() <= before)
    await turns()
    assert.equal(pds.all.length, 1)
    await conn.stop() // idempotent
    assert.deepEqual(rec.states, ['connecting', 'connected', 'stopped'])
  })

  it('stop() during the backoff wait cancels the pending reconnect', async (t) => {
    const { pds, rec, conn } = await rig(t, {
      startCursor: 0,
      backoff: { initialMs: 60_000, maxMs: 60_000 },
      random: () => 0.5,
    })
    conn.start()
    const sub = await pds.next()
    sub.socket.close(1000)
    await sub.closed
    await rec.until(() => conn.state === 'disconnected', 'disconnected')
    const waiting = liveTimers() // includes the reconnect timer
    await conn.stop() // no socket: nothing else can run in between
    assert.equal(conn.state, 'stopped')
    assert.equal(liveTimers(), waiting - 1)
    conn.start() // and can start again, from the same seq
    const again = await pds.next()
    assert.equal(again.cursor, '0')
  })

  it('a dial that comes due while paused waits for resume', async (t) => {
    const { pds, rec, conn } = await rig(t, { startCursor: 0 })
    rec.onStateHook = (state) => {
      if (state === 'disconnected') conn.pause()
    }
    conn.start()
    const sub = await pds.next()
    await rec.until(() => conn.connected, 'connected')
    sub.socket.close(1000)
    await rec.until(() => conn.state === 'disconnected', 'disconnected')
    await timerTicks(10, 5) // the reconnect timer (under 20 ms) fires first
    assert.equal(pds.all.length, 1)
    assert.equal(conn.state, 'disconnected')
    rec.onStateHook = null
    conn.resume()
    const again = await pds.next()
    assert.equal(again.cursor, '0')
    await rec.until(() => conn.connected, 'reconnected')
  })
})
