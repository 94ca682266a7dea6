import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { Fanout } from './fanout.ts'
import { eventually, startServer, TestClient } from './testing/clients.ts'
import { MemoryLog } from './testing/memory-log.ts'

describe('Fanout slow consumers', () => {
  it('ConsumerTooSlow for a consumer that stops reading; the other keeps receiving', async () => {
    const log = new MemoryLog()
    const maxBufferedBytes = 256 * 1024
    const fanout = new Fanout({ log, maxBufferedBytes, closeGraceMs: 60_000 })
    const server = await startServer(fanout)
    try {
      const fast = new TestClient(server.url)
      const slow = new TestClient(server.url)
      await fast.opened()
      await slow.opened()
      await eventually(() => fanout.count === 2, 'attached')
      const slowInfo = fanout.consumers()[1]
      slow.ws.pause()
      // 8 × 16 KB per batch; wait for the fast consumer each time, so only the paused one backs up.
      let rounds = 0
      while (fanout.count === 2) {
        assert.ok(++rounds < 5000, 'the paused consumer was never cut off')
        fanout.broadcast(log.appendPadded(8, 16_000))
        const last = log.flushedSeq
        await fast.until(() => fast.seqs().at(-1) === last, `fast consumer reaches ${last}`)
      }
      assert.deepEqual(
        fanout.consumers().map((c) => c.id),
        [fanout.consumers()[0]?.id],
      )
      assert.notEqual(fanout.consumers()[0]?.id, slowInfo?.id)
      assert.equal(fanout.stats().tooSlow, 1)
      // The fast one keeps going.
      fanout.broadcast(log.append(['did:plc:x']))
      const end = log.flushedSeq
      await fast.until(() => fast.seqs().at(-1) === end, 'fast consumer after the cut')
      // Once it reads again, the slow one finds a gapless prefix, then ConsumerTooSlow, then close.
      slow.ws.resume()
      await slow.closed
      const lastFrame = slow.frames.at(-1)
      assert.ok(lastFrame?.op === -1 && lastFrame.error === 'ConsumerTooSlow', 'error frame last')
      assert.equal(slow.closeCode, 1008)
      const seqs = slow.seqs()
      assert.deepEqual(
        seqs,
        Array.from({ length: seqs.length }, (_, i) => i + 1),
      )
      assert.ok(seqs.length < end - 1)
    } finally {
      await fanout.close()
      await server.close()
    }
  })

  it('a slow consumer that never reads again is terminated after the grace period', async () => {
    const log = new MemoryLog()
    const fanout = new Fanout({ log, maxBufferedBytes: 64 * 1024, closeGraceMs: 50 })
    const server = await startServer(fanout)
    try {
      const slow = new TestClient(server.url)
      await slow.opened()
      await eventually(() => fanout.count === 1, 'attached')
      slow.ws.pause()
      let rounds = 0
      while (fanout.count === 1) {
        assert.ok(++rounds < 100_000, 'never cut off')
        fanout.broadcast(log.appendPadded(8, 16_000))
        await new Promise((r) => setImmediate(r))
      }
      // Still paused: the close handshake cannot finish, so the server terminates the socket.
      await eventually(() => server.wss.clients.size === 0, 'server side closed')
      slow.ws.resume()
      await slow.closed
    } finally {
      await fanout.close()
      await server.close()
    }
  })
})
