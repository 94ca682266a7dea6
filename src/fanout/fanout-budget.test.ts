// The relay-wide bound on consumer buffers and the replay window, on real loopback sockets.
// A paused client stops reading; the kernel's socket buffers take a few MB before the relay's
// own send buffer grows, so the assertions are upper bounds and eventual cuts.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Fanout } from './fanout.ts'
import { eventually, seqRange, startServer, TestClient } from './testing/clients.ts'
import { MemoryLog } from './testing/memory-log.ts'

const KiB = 1024
const MiB = 1024 * 1024

describe('Fanout buffer budget', () => {
  it('over the total budget, the live consumer holding most is cut; the others keep going', async () => {
    const log = new MemoryLog()
    const budget = 2 * MiB
    // Each consumer's own bound is far above the budget: only the budget can cut them.
    const fanout = new Fanout({ log, maxBufferedBytes: 64 * MiB, maxTotalBufferedBytes: budget })
    const server = await startServer(fanout)
    try {
      const fast = new TestClient(server.url)
      const first = new TestClient(server.url)
      const second = new TestClient(server.url)
      for (const c of [fast, first, second]) await c.opened()
      await eventually(() => fanout.count === 3, 'attached')
      const [, firstInfo, secondInfo] = fanout.consumers()
      first.ws.pause()
      const round = async (): Promise<void> => {
        fanout.broadcast(log.appendPadded(8, 16_000))
        // After every broadcast the total is back within the budget.
        assert.ok(fanout.bufferedBytes() <= budget, `${fanout.bufferedBytes()} over the budget`)
        const last = log.flushedSeq
        await fast.until(() => fast.seqs().at(-1) === last, `fast consumer reaches ${last}`)
      }
      // Let the first one back up alone for a while, then stop the second too.
      for (let i = 0; i < 20; i++) await round()
      second.ws.pause()
      let rounds = 0
      while (fanout.count === 3) {
        assert.ok(++rounds < 5000, 'nobody was cut for the budget')
        await round()
      }
      // The first, holding more, went; the second is still served.
      const ids = fanout.consumers().map((c) => c.id)
      assert.ok(!ids.includes(firstInfo?.id ?? -1), 'the consumer holding most was cut')
      assert.ok(ids.includes(secondInfo?.id ?? -1), 'the other paused consumer was kept')
      assert.equal(fanout.stats().overBudget, 1)
      assert.equal(fanout.stats().tooSlow, 0)
      // The cut one was terminated at once: what it had received is a gapless prefix.
      first.ws.resume()
      await first.closed
      assert.equal(first.closeCode, 1006)
      const seqs = first.seqs()
      assert.deepEqual(seqs, seqRange(1, seqs.length))
      second.ws.resume()
      const end = log.flushedSeq
      await second.until(() => second.seqs().at(-1) === end, 'the kept consumer catches up')
      assert.deepEqual(second.seqs(), seqRange(1, end))
    } finally {
      await fanout.close()
      await server.close()
    }
  })

  it('a replay keeps only its window queued, then delivers everything in order', async () => {
    const log = new MemoryLog()
    for (let i = 0; i < 40; i++) log.appendPadded(25, 20_000)
    const total = log.flushedSeq // 1,000 records of ~20 KB: ~20 MB
    const window = 512 * KiB
    const fanout = new Fanout({ log, maxBufferedBytes: 64 * MiB, replayWindowBytes: window })
    const server = await startServer(fanout)
    try {
      const reader = new TestClient(server.url, { cursor: 0 })
      await reader.opened()
      reader.ws.pause()
      // Wait until the replay has stopped reading the log: the socket is full.
      await log.readsSettled()
      // The first batch of 500 records (~10 MB) never fits: the replay waits inside it.
      assert.equal(log.reads, 1, 'the replay stalled in its first batch')
      assert.ok(reader.seqs().length < 500, `${reader.seqs().length} delivered while paused`)
      // At most one window plus one chunk in the relay's buffers, whatever the bound allows.
      assert.ok(
        fanout.bufferedBytes() <= window + 256 * KiB,
        `${fanout.bufferedBytes()} bytes queued for one replay`,
      )
      reader.ws.resume()
      await reader.until(() => reader.seqs().at(-1) === total, 'replay finished', 30_000)
      assert.deepEqual(reader.seqs(), seqRange(1, total))
      fanout.broadcast(log.append(['did:plc:x']))
      await reader.until(() => reader.seqs().at(-1) === total + 1, 'live after the replay')
    } finally {
      await fanout.close()
      await server.close()
    }
  })

  it('replays wait for room in the budget instead of being cut', async () => {
    const log = new MemoryLog()
    for (let i = 0; i < 20; i++) log.appendPadded(25, 20_000)
    const total = log.flushedSeq
    const budget = 1 * MiB
    const fanout = new Fanout({
      log,
      maxBufferedBytes: 64 * MiB,
      maxTotalBufferedBytes: budget,
      replayWindowBytes: 1 * MiB,
    })
    const server = await startServer(fanout)
    try {
      const readers = [0, 1, 2].map(() => new TestClient(server.url, { cursor: 0 }))
      for (const r of readers) {
        await r.opened()
        r.ws.pause()
      }
      await eventually(() => fanout.count === 3, 'attached')
      await log.readsSettled()
      // Three replays together stay within their half of the budget (plus a chunk each, as the
      // sum they check is a few milliseconds old).
      assert.ok(
        fanout.bufferedBytes() <= budget / 2 + 3 * 256 * KiB,
        `${fanout.bufferedBytes()} bytes queued`,
      )
      assert.equal(fanout.count, 3)
      for (const r of readers) r.ws.resume()
      for (const r of readers) {
        await r.until(() => r.seqs().at(-1) === total, 'replay finished', 30_000)
        assert.deepEqual(r.seqs(), seqRange(1, total))
      }
      assert.equal(fanout.stats().overBudget, 0)
    } finally {
      await fanout.close()
      await server.close()
    }
  })

  it('replays holding their share never push a live consumer out', async () => {
    const log = new MemoryLog()
    for (let i = 0; i < 20; i++) log.appendPadded(25, 20_000)
    const budget = 2 * MiB
    const fanout = new Fanout({ log, maxBufferedBytes: 64 * MiB, maxTotalBufferedBytes: budget })
    const server = await startServer(fanout)
    try {
      const readers = [0, 1, 2].map(() => new TestClient(server.url, { cursor: 0 }))
      for (const r of readers) {
        await r.opened()
        r.ws.pause()
      }
      await eventually(() => fanout.count === 3, 'replays attached')
      const live = new TestClient(server.url)
      await live.opened()
      await eventually(() => fanout.count === 4, 'live attached')
      await log.readsSettled()
      // The replays hold their half; the live consumer stops reading until the relay holds
      // 600 KiB for it (its kernel buffers fill first), well within the half left to it.
      assert.ok(fanout.bufferedBytes() <= budget / 2 + 3 * 256 * KiB)
      const liveSocket = [...server.wss.clients].at(-1)!
      live.ws.pause()
      let rounds = 0
      while (liveSocket.bufferedAmount < 600 * KiB) {
        assert.ok(++rounds < 5000, 'the live consumer never backed up')
        fanout.broadcast(log.appendPadded(8, 16_000))
        await new Promise((r) => setImmediate(r))
        assert.equal(fanout.stats().overBudget, 0, 'a live consumer was cut for the replays')
      }
      assert.equal(fanout.count, 4)
      live.ws.resume()
      const end = log.flushedSeq
      await live.until(() => live.seqs().at(-1) === end, 'the live consumer catches up')
    } finally {
      await fanout.close()
      await server.close()
    }
  })

  it('over the budget, a socket already closing is terminated before a live consumer is cut', async () => {
    const log = new MemoryLog()
    // The first consumer is cut by its own bound and keeps its bytes while it closes (60 s
    // grace); the second then passes what the budget leaves beside that closing socket.
    const fanout = new Fanout({
      log,
      maxBufferedBytes: 1536 * KiB,
      maxTotalBufferedBytes: 2 * MiB,
      closeGraceMs: 60_000,
    })
    const server = await startServer(fanout)
    try {
      const fast = new TestClient(server.url)
      const first = new TestClient(server.url)
      const second = new TestClient(server.url)
      for (const c of [fast, first, second]) await c.opened()
      await eventually(() => fanout.count === 3, 'attached')
      first.ws.pause()
      const round = async (): Promise<void> => {
        fanout.broadcast(log.appendPadded(8, 16_000))
        const last = log.flushedSeq
        await fast.until(() => fast.seqs().at(-1) === last, `fast consumer reaches ${last}`)
      }
      let rounds = 0
      while (fanout.stats().tooSlow === 0) {
        assert.ok(++rounds < 5000, 'the first paused consumer was never cut')
        await round()
      }
      assert.equal(fanout.count, 2)
      second.ws.pause()
      while (fanout.stats().shedClosing === 0) {
        assert.ok(++rounds < 10_000, 'the closing socket was never shed')
        await round()
      }
      // The closing socket went first; the second consumer was still being served then.
      assert.equal(fanout.stats().overBudget, 0)
      assert.equal(fanout.count, 2)
      first.ws.resume()
      second.ws.resume()
      await first.closed
      assert.equal(first.closeCode, 1006)
    } finally {
      await fanout.close()
      await server.close()
    }
  })

  it('refuses a budget smaller than two replay chunks', () => {
    assert.throws(
      () =>
        new Fanout({ log: new MemoryLog(), maxBufferedBytes: MiB, maxTotalBufferedBytes: 1000 }),
      /at least/,
    )
  })
})
