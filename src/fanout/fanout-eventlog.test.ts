// Fanout over the real event log (src/eventlog): broadcasts come from `onFlush`, replays read the
// segment files, and appends keep going while consumers replay and switch to live.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { EventLog } from '../eventlog/index.ts'
import { tempDir, testInput } from '../eventlog/testing.ts'
import { Fanout } from './fanout.ts'
import { eventually, startServer, TestClient } from './testing/clients.ts'

const range = (from: number, to: number): number[] =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i)

describe('Fanout with the real event log', () => {
  it('replays from files and cuts over to live while appends continue', async () => {
    await using dir = await tempDir('fanout-eventlog-')
    const log = await EventLog.open({
      dir: dir.path,
      initialSeq: 1,
      retentionMs: 3_600_000,
      flushIntervalMs: 1,
      segmentMaxBytes: 64 * 1024,
    })
    const fanout = new Fanout({ log, maxBufferedBytes: 8 << 20, replayBatch: 50 })
    const unsubscribe = log.onFlush((records) => fanout.broadcast(records))
    const server = await startServer(fanout)
    try {
      let n = 0
      for (; n < 1500; n++) log.append(testInput(n, 200))
      await log.flush()
      let writing = true
      const writer = (async () => {
        while (writing) {
          for (let i = 0; i < 7; i++) log.append(testInput(n++, 200))
          await new Promise((r) => setImmediate(r))
        }
        await log.flush()
      })()
      const fromStart = new TestClient(server.url, { cursor: 0 })
      const fromMiddle = new TestClient(server.url, { cursor: 700 })
      await fromStart.opened()
      await fromMiddle.opened()
      await eventually(
        () => fanout.count === 2 && fanout.consumers().every((c) => c.state === 'live'),
        'both live',
        30_000,
      )
      writing = false
      await writer
      const last = log.flushedSeq
      for (const c of [fromStart, fromMiddle]) {
        await c.until(() => c.seqs().at(-1) === last, `reaches ${last}`, 30_000)
      }
      assert.deepEqual(fromStart.seqs(), range(1, last))
      assert.deepEqual(fromMiddle.seqs(), range(701, last))
      assert.ok(fromStart.frames.every((f) => f.op === 1 && f.type === '#commit'))
      assert.ok(last > 1500)
    } finally {
      unsubscribe()
      await fanout.close()
      await server.close()
      await log.close()
    }
  })
})
