import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { Fanout } from './fanout.ts'
import { SpareChunks } from './replay.ts'
import { eventually, startServer, TestClient } from './testing/clients.ts'
import { MemoryLog } from './testing/memory-log.ts'

const range = (from: number, to: number): number[] =>
  Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i)
const tick = (): Promise<void> => new Promise((r) => setImmediate(r))

describe('replay-to-live cutover', () => {
  it('no gap and no duplicate under broadcasts interleaved with the replay', async () => {
    const plan = fc.record({
      initial: fc.integer({ min: 0, max: 120 }),
      cursors: fc.array(fc.option(fc.integer({ min: 0, max: 140 }), { nil: undefined }), {
        minLength: 1,
        maxLength: 4,
      }),
      replayBatch: fc.integer({ min: 1, max: 40 }),
      // Broadcast batch sizes; each batch happens inside a log read, between reads, or both.
      batches: fc.array(
        fc.record({ size: fc.integer({ min: 1, max: 6 }), where: fc.constantFrom('read', 'tick') }),
        { maxLength: 40 },
      ),
      pad: fc.constantFrom(0, 1500),
    })
    await fc.assert(
      fc.asyncProperty(plan, async (p) => {
        const log = new MemoryLog()
        const fanout = new Fanout({ log, maxBufferedBytes: 4 << 20, replayBatch: p.replayBatch })
        const server = await startServer(fanout)
        const write = (n: number): void => {
          fanout.broadcast(
            log.append(
              Array.from({ length: n }, () => 'did:plc:x'),
              p.pad,
            ),
          )
        }
        try {
          write(p.initial)
          const cursors = p.cursors.map((c) =>
            c === undefined ? undefined : Math.min(c, p.initial),
          )
          const inRead = p.batches.filter((b) => b.where === 'read')
          const onTick = p.batches.filter((b) => b.where === 'tick')
          log.beforeRead = async () => {
            const b = inRead.shift()
            if (b === undefined) return
            write(b.size)
            await tick()
            const again = inRead.shift()
            if (again !== undefined) write(again.size)
          }
          const clients = cursors.map((cursor) => new TestClient(server.url, { cursor }))
          // A live-only client starts after whatever was written when it was attached: somewhere
          // between the last seq before it connected and the last seq once it was attached.
          const window = new Map<TestClient, [number, number]>()
          for (const c of clients) {
            const before = log.flushedSeq
            await c.opened()
            await eventually(() => fanout.count === window.size + 1, 'attached')
            window.set(c, [before, log.flushedSeq])
          }
          while (onTick.length > 0) {
            write(onTick.shift()?.size ?? 1)
            await tick()
          }
          await eventually(() => fanout.consumers().every((i) => i.state === 'live'), 'all live')
          write(3)
          const last = log.flushedSeq
          for (const [i, c] of clients.entries()) {
            await c.until(() => c.seqs().at(-1) === last, `client ${i} reaches ${last}`)
            const seqs = c.seqs()
            const cursor = cursors[i]
            let first = (cursor ?? 0) + 1
            if (cursor === undefined) {
              const [before, attached] = window.get(c) ?? [0, 0]
              first = seqs[0] ?? 0
              assert.ok(first > before && first <= attached + 1, `client ${i} starts at ${first}`)
            }
            assert.deepEqual(seqs, range(first, last), `client ${i} (cursor ${cursor})`)
          }
        } finally {
          await fanout.close()
          await server.close()
        }
      }),
      { numRuns: 40 },
    )
  })

  it('respects backpressure: a consumer that stops reading stalls its replay, then gets it all', async () => {
    const log = new MemoryLog()
    const maxBufferedBytes = 256 * 1024
    const total = 3000
    for (let i = 0; i < total / 100; i++)
      log.append(
        Array.from({ length: 100 }, () => 'did:plc:x'),
        16_000,
      )
    const fanout = new Fanout({ log, maxBufferedBytes, replayBatch: 16 })
    const server = await startServer(fanout)
    const serverSide = () => [...server.wss.clients][0]
    let maxSeen = 0
    log.beforeRead = async () => {
      maxSeen = Math.max(maxSeen, serverSide()?.bufferedAmount ?? 0)
    }
    const sampler = setInterval(() => {
      maxSeen = Math.max(maxSeen, serverSide()?.bufferedAmount ?? 0)
    }, 1)
    try {
      const c = new TestClient(server.url, { cursor: 0 })
      await c.opened()
      c.ws.pause()
      await eventually(
        () => (serverSide()?.bufferedAmount ?? 0) > maxBufferedBytes / 2,
        'backed up',
      )
      const readsWhenFull = log.reads
      assert.ok(
        readsWhenFull < total / 16,
        `replay read ahead of the socket: ${readsWhenFull} reads`,
      )
      c.ws.resume()
      await c.until(() => c.seqs().length === total, 'everything', 30_000)
      assert.deepEqual(c.seqs(), range(1, total))
      assert.ok(maxSeen <= maxBufferedBytes + 17_000, `buffered ${maxSeen}`)
      assert.equal(fanout.consumers()[0]?.state, 'live')
    } finally {
      clearInterval(sampler)
      await fanout.close()
      await server.close()
    }
  })

  it('a failing log read closes that consumer with 1011 and reports it', async () => {
    const log = new MemoryLog()
    log.append(['did:plc:x', 'did:plc:x'])
    const errors: unknown[] = []
    const fanout = new Fanout({
      log,
      maxBufferedBytes: 1 << 20,
      onReplayError: (err) => errors.push(err),
    })
    const server = await startServer(fanout)
    log.beforeRead = () => Promise.reject(new Error('disk gone'))
    const c = new TestClient(server.url, { cursor: 0 })
    await c.closed
    assert.equal(c.closeCode, 1011)
    assert.equal((errors[0] as Error).message, 'disk gone')
    assert.equal(fanout.count, 0)
    assert.equal(fanout.stats().replayFailures, 1)
    await fanout.close()
    await server.close()
  })
})

describe('spare replay chunks', () => {
  it('are reused, one size, and at most 8 are kept however many come back', () => {
    const spare = new SpareChunks(256 * 1024)
    assert.equal(spare.capacity, 256 * 1024 + 32 * 1024, 'room for the frames and their headers')
    const first = spare.take()
    assert.equal(first.length, spare.capacity)
    spare.give(first)
    assert.equal(spare.take(), first, 'the same memory again')
    const out = Array.from({ length: 20 }, () => spare.take())
    for (const c of out) spare.give(c)
    assert.equal(spare.count, 8)
  })
})
