// HostConnection over real sockets: what each kind of upstream frame leads to.
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { decodeFrame, encodeErrorFrame, encodeMessageFrame } from '../protocol/frame.ts'
import { identityFrame, nonCanonicalIdentityFrame, TEST_DID } from './testing/frames.ts'
import { describeEachSocketPlace, TEST_USER_AGENT } from './testing/setup.ts'

const time = '2024-05-01T12:00:00.000Z'

describeEachSocketPlace('HostConnection frames', (rig) => {
  it('requests the persisted cursor with the User-Agent, and starts live without one', async (t) => {
    const a = await rig(t, { startCursor: 42 })
    a.conn.start()
    const sub = await a.pds.next()
    assert.equal(sub.url.pathname, '/xrpc/com.atproto.sync.subscribeRepos')
    assert.equal(sub.cursor, '42')
    assert.equal(sub.request.headers['user-agent'], TEST_USER_AGENT)
    await a.rec.until(() => a.conn.connected, 'connected')
    assert.deepEqual(a.rec.states, ['connecting', 'connected'])

    const b = await rig(t, { startCursor: null })
    b.conn.start()
    const live = await b.pds.next()
    assert.equal(live.cursor, null)
    assert.equal(live.url.search, '')
  })

  it('delivers events in order, each in a buffer of its own', async (t) => {
    const { pds, rec, conn } = await rig(t, { startCursor: 0 })
    conn.start()
    const sub = await pds.next()
    const frames = [1, 2, 3, 4, 5].map((s) => identityFrame(s))
    for (const f of frames) await sub.send(f)
    await rec.until(() => rec.seqs.length === 5, '5 events')
    assert.deepEqual(rec.seqs, [1, 2, 3, 4, 5])
    rec.log.forEach((r) => {
      if (r.kind !== 'event') return
      assert.equal(r.raw.byteOffset, 0)
      assert.equal(r.raw.buffer.byteLength, r.raw.byteLength)
      assert.deepEqual(r.raw, frames[r.msg.seq - 1])
      assert.equal(r.msg.type, '#identity')
    })
    assert.equal(conn.lastSeq, 5)
    assert.equal(conn.cursor, 0)
    assert.equal(conn.inFlight, 5)
    assert.equal(conn.stats.framesReceived, 5)
    assert.equal(
      conn.stats.bytesReceived,
      frames.reduce((n, f) => n + f.length, 0),
    )
    assert.ok(conn.stats.lastFrameAt !== null)
  })

  it('drops seqs that do not increase', async (t) => {
    const { pds, rec, conn } = await rig(t, { startCursor: 2 })
    conn.start()
    const sub = await pds.next()
    for (const s of [2, 5, 3, 5, 6]) await sub.send(identityFrame(s))
    await rec.until(() => rec.seqs.length === 2 && rec.drops.length === 3, 'outcomes')
    assert.deepEqual(rec.seqs, [5, 6])
    assert.deepEqual(rec.drops, [
      { reason: 'seq-not-increasing', seq: 2 },
      { reason: 'seq-not-increasing', seq: 3 },
      { reason: 'seq-not-increasing', seq: 5 },
    ])
  })

  it('drops a non-canonical frame, moves the cursor past it and keeps reading', async (t) => {
    const { pds, rec, conn } = await rig(t, { startCursor: 0 })
    conn.start()
    const sub = await pds.next()
    await sub.send(identityFrame(1))
    await sub.send(nonCanonicalIdentityFrame(2))
    await sub.send(identityFrame(3))
    await rec.until(() => rec.seqs.length === 2, 'events 1 and 3')
    assert.deepEqual(rec.seqs, [1, 3])
    assert.deepEqual(rec.drops, [{ reason: 'non-canonical-cbor', seq: 2 }])
    conn.complete(1)
    assert.equal(conn.cursor, 2)
    conn.complete(3)
    assert.equal(conn.cursor, 3)
    assert.ok(conn.connected)
    assert.equal(conn.stats.reconnects, 0)
  })

  it('drops legacy, unknown and invalid messages with their reasons', async (t) => {
    const { pds, rec, conn } = await rig(t, { startCursor: 1 })
    conn.start()
    const sub = await pds.next()
    await sub.send(encodeMessageFrame('#handle', { seq: 2, did: TEST_DID, handle: 'a.test', time }))
    await sub.send(encodeMessageFrame('#migrate', { seq: 3, did: TEST_DID, time }))
    await sub.send(encodeMessageFrame('#shiny', { seq: 4 }))
    await sub.send(encodeMessageFrame('#account', { seq: 5, did: TEST_DID, time }))
    await sub.send(identityFrame(6))
    await rec.until(() => rec.seqs.length === 1, 'event 6')
    assert.deepEqual(rec.drops, [
      { reason: 'legacy-type', seq: 2 },
      { reason: 'legacy-type', seq: 3 },
      { reason: 'unknown-type', seq: 4 },
      { reason: 'invalid-message', seq: 5 },
    ])
    assert.equal(conn.cursor, 5)
    conn.complete(6)
    assert.equal(conn.cursor, 6)
  })

  it('hands #info to onInfo without touching seqs', async (t) => {
    const { pds, rec, conn } = await rig(t, { startCursor: 7 })
    conn.start()
    const sub = await pds.next()
    await sub.send(
      encodeMessageFrame('#info', {
        name: 'OutdatedCursor',
        message: 'Requested cursor exceeded limit.',
      }),
    )
    await sub.send(identityFrame(8))
    await rec.until(() => rec.seqs.length === 1, 'event 8')
    const info = rec.log.find((r) => r.kind === 'info')
    assert.deepEqual(info?.kind === 'info' && info.msg, {
      type: '#info',
      name: 'OutdatedCursor',
      message: 'Requested cursor exceeded limit.',
    })
    assert.equal(rec.drops.length, 0)
  })

  it('reports a FutureCursor error frame, ends the socket and retries with the same cursor', async (t) => {
    const { pds, rec, conn } = await rig(t, { startCursor: 100 })
    conn.start()
    const sub = await pds.next()
    await sub.send(encodeErrorFrame('FutureCursor', 'Cursor in the future.'))
    await rec.until(() => rec.log.some((r) => r.kind === 'error'), 'error frame')
    assert.deepEqual(
      rec.log.find((r) => r.kind === 'error'),
      { kind: 'error', error: 'FutureCursor', message: 'Cursor in the future.' },
    )
    await sub.closed // the server did not close: the client did
    const again = await pds.next()
    assert.equal(again.cursor, '100')
    assert.equal(conn.cursor, 100)
    assert.match(conn.stats.lastError ?? '', /FutureCursor/)
  })

  it('closes on an undecodable frame and reconnects from the last seq', async (t) => {
    const { pds, rec, conn } = await rig(t, { startCursor: 0 })
    conn.start()
    const sub = await pds.next()
    await sub.send(identityFrame(1))
    await sub.send(identityFrame(2))
    await sub.send(Uint8Array.of(0x1c, 0x00))
    await rec.until(() => rec.drops.length === 1, 'drop')
    assert.deepEqual(rec.drops, [{ reason: 'undecodable-frame', seq: undefined }])
    await sub.closed
    const again = await pds.next()
    assert.equal(again.cursor, '2')
    await again.send(identityFrame(3))
    await rec.until(() => rec.seqs.length === 3, 'event 3')
    assert.deepEqual(rec.seqs, [1, 2, 3])
    assert.equal(conn.stats.reconnects, 1)
    assert.match(conn.stats.lastError ?? '', /undecodable-frame after seq 2/)
    assert.ok(rec.states.includes('disconnected'))
  })

  it('closes on a frame over the size limit (frame-too-large) and reconnects', async (t) => {
    const { pds, rec, conn } = await rig(t, { startCursor: 0, maxFrameBytes: 1_000 })
    conn.start()
    const sub = await pds.next()
    await sub.send(identityFrame(1))
    const big = identityFrame(2, { pad: 'x'.repeat(2_000) })
    assert.ok(decodeFrame(big).op === 1)
    await sub.send(big)
    await rec.until(() => rec.drops.length === 1, 'drop')
    assert.deepEqual(rec.drops, [{ reason: 'frame-too-large', seq: undefined }])
    await sub.closed
    const again = await pds.next()
    assert.equal(again.cursor, '1')
    assert.match(conn.stats.lastError ?? '', /frame-too-large/)
    // That connection delivered event 1 first: a host that makes progress is not failing.
    assert.equal(conn.stats.consecutiveFailures, 0)
    // The next one delivers nothing before the same frame: that is a failure.
    const big3 = identityFrame(3, { pad: 'x'.repeat(2_000) })
    await again.send(big3)
    await again.closed
    await rec.until(() => conn.stats.consecutiveFailures === 1, 'a failure counted')
  })
})
