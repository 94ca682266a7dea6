import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { WebSocket } from 'ws'
import { Fanout } from './fanout.ts'
import { eventually, startServer, TestClient, type TestServer } from './testing/clients.ts'
import { MemoryLog } from './testing/memory-log.ts'

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i)
const dids = (n: number, did = 'did:plc:aaa'): string[] => Array.from({ length: n }, () => did)

interface Setup {
  log: MemoryLog
  fanout: Fanout
  server: TestServer
  clients: TestClient[]
  connect(opts?: { cursor?: number; userAgent?: string; autoPong?: boolean }): Promise<TestClient>
  /** Appends to the log and broadcasts, as the log will. */
  write(n: number, did?: string): void
  done(): Promise<void>
}

async function setup(opts: Partial<ConstructorParameters<typeof Fanout>[0]> = {}): Promise<Setup> {
  const log = new MemoryLog()
  const fanout = new Fanout({ log, maxBufferedBytes: 1 << 20, ...opts })
  const server = await startServer(fanout)
  const clients: TestClient[] = []
  return {
    log,
    fanout,
    server,
    clients,
    async connect(o) {
      const c = new TestClient(server.url, o)
      clients.push(c)
      await c.opened()
      return c
    },
    write(n, did) {
      fanout.broadcast(log.append(dids(n, did)))
    },
    async done() {
      await fanout.close()
      await server.close()
    },
  }
}

/** Waits until the fanout has taken the client on (attach runs after the client sees 'open'). */
async function attached(s: Setup, n: number): Promise<void> {
  await eventually(() => s.fanout.count === n, `${n} consumers attached`)
}

describe('Fanout cursors', () => {
  it('no cursor: live only, from the next broadcast on', async () => {
    const s = await setup()
    s.write(5)
    const c = await s.connect()
    await attached(s, 1)
    s.write(3)
    await c.until(() => c.seqs().length === 3, 'three live events')
    assert.deepEqual(c.seqs(), [6, 7, 8])
    assert.equal(s.fanout.consumers()[0]?.state, 'live')
    await s.done()
  })

  it('cursor in the future: FutureCursor error frame, then close', async () => {
    const s = await setup()
    s.write(5)
    const c = await s.connect({ cursor: 6 })
    await c.closed
    assert.deepEqual(c.frames, [
      { op: -1, error: 'FutureCursor', message: 'Cursor in the future.' },
    ])
    assert.equal(c.closeCode, 1008)
    assert.equal(s.fanout.count, 0)
    assert.equal(s.fanout.stats().futureCursor, 1)
    await s.done()
  })

  it('cursor equal to the last seq: nothing replayed, then live', async () => {
    const s = await setup()
    s.write(5)
    const c = await s.connect({ cursor: 5 })
    await eventually(() => s.fanout.consumers()[0]?.state === 'live', 'live')
    s.write(2)
    await c.until(() => c.seqs().length === 2, 'live events')
    assert.deepEqual(c.seqs(), [6, 7])
    await s.done()
  })

  it('cursor=0: everything retained, then live, no #info', async () => {
    const s = await setup()
    s.write(10)
    s.log.trimBefore(4)
    const c = await s.connect({ cursor: 0 })
    await c.until(() => c.seqs().length === 7, 'replay')
    await eventually(() => s.fanout.consumers()[0]?.state === 'live', 'live')
    s.write(2)
    await c.until(() => c.seqs().length === 9, 'live events')
    assert.deepEqual(c.seqs(), range(4, 12))
    assert.ok(c.frames.every((f) => f.op === 1 && f.type === '#identity'))
    await s.done()
  })

  it('cursor older than the retained window: #info OutdatedCursor, everything retained, live', async () => {
    const s = await setup()
    s.write(10)
    s.log.trimBefore(6)
    const c = await s.connect({ cursor: 3 })
    await c.until(() => c.seqs().length === 5, 'replay')
    await eventually(() => s.fanout.consumers()[0]?.state === 'live', 'live')
    s.write(1)
    await c.until(() => c.seqs().length === 6, 'live event')
    const info = c.frames[0]
    assert.ok(info?.op === 1 && info.type === '#info')
    assert.equal(info.body.name, 'OutdatedCursor')
    assert.equal(typeof info.body.message, 'string')
    assert.deepEqual(c.seqs(), range(6, 11))
    assert.equal(s.fanout.stats().outdatedCursor, 1)
    await s.done()
  })

  it('cursor right before the oldest retained seq is not outdated', async () => {
    const s = await setup()
    s.write(10)
    s.log.trimBefore(6)
    const c = await s.connect({ cursor: 5 })
    await c.until(() => c.seqs().length === 5, 'replay')
    assert.equal(c.frames[0]?.op === 1 && c.frames[0].type, '#identity')
    assert.deepEqual(c.seqs(), range(6, 10))
    await s.done()
  })

  it('cursor inside the window: exclusive, every seq after it, then live', async () => {
    const s = await setup({ replayBatch: 3 })
    s.write(20)
    const c = await s.connect({ cursor: 7 })
    await c.until(() => c.seqs().length === 13, 'replay')
    await eventually(() => s.fanout.consumers()[0]?.state === 'live', 'live')
    s.write(2)
    await c.until(() => c.seqs().length === 15, 'live')
    assert.deepEqual(c.seqs(), range(8, 22))
    await s.done()
  })

  it('rejects an invalid cursor before touching the socket', async () => {
    const s = await setup()
    const untouched = {} as WebSocket
    for (const cursor of [-1, 1.5, Number.NaN, 2 ** 53]) {
      const attach = () => s.fanout.attach(untouched, { cursor, remoteAddr: '', userAgent: '' })
      assert.throws(attach, { name: 'FanoutError', code: 'invalid-cursor' })
    }
    await s.done()
  })
})

describe('Fanout live', () => {
  it('sends the identical bytes to every consumer', async () => {
    const s = await setup()
    const cs = await Promise.all([s.connect(), s.connect(), s.connect()])
    await attached(s, 3)
    const written = s.log.append(dids(4))
    s.fanout.broadcast(written)
    s.write(2)
    for (const c of cs) await c.until(() => c.raw.length === 6, 'six frames')
    for (const c of cs) {
      assert.deepEqual(c.seqs(), range(1, 6))
      assert.deepEqual(
        c.raw.slice(0, 4),
        written.map((r) => r.frame),
      )
    }
    const infos = s.fanout.consumers()
    assert.equal(infos.length, 3)
    for (const info of infos) {
      assert.equal(info.eventsSent, 6)
      assert.equal(info.userAgent, 'fanout-test')
      assert.equal(info.cursor, null)
      assert.equal(info.remoteAddr, '127.0.0.1')
    }
    await s.done()
  })

  it('takedown filter: hidden DIDs are skipped on replay and live', async () => {
    const hidden = new Set(['did:plc:bad'])
    const s = await setup({ isHidden: (did) => hidden.has(did) })
    s.write(2, 'did:plc:good')
    s.write(2, 'did:plc:bad')
    s.write(1, 'did:plc:good')
    const c = await s.connect({ cursor: 0 })
    await c.until(() => c.seqs().length === 3, 'replay')
    await eventually(() => s.fanout.consumers()[0]?.state === 'live', 'live')
    s.write(1, 'did:plc:bad')
    s.write(1, 'did:plc:good')
    await c.until(() => c.seqs().length === 4, 'live')
    assert.deepEqual(c.seqs(), [1, 2, 5, 7])
    assert.ok(c.frames.every((f) => f.op === 1 && f.body.did === 'did:plc:good'))
    await s.done()
  })

  it('a consumer that closes is removed at once; the others keep receiving', async () => {
    const s = await setup()
    const a = await s.connect()
    const b = await s.connect()
    await attached(s, 2)
    a.ws.close()
    await a.closed
    await attached(s, 1)
    s.write(2)
    await b.until(() => b.seqs().length === 2, 'live')
    await s.done()
  })

  it('ignores messages from consumers', async () => {
    const s = await setup()
    const c = await s.connect()
    await attached(s, 1)
    c.ws.send('hello')
    c.ws.send(new Uint8Array([1, 2, 3]))
    s.write(1)
    await c.until(() => c.seqs().length === 1, 'live')
    assert.equal(s.fanout.count, 1)
    await s.done()
  })
})

describe('Fanout limits and shutdown', () => {
  it('maxConsumers: one more gets TooManyConsumers and is closed', async () => {
    const s = await setup({ maxConsumers: 2 })
    await s.connect()
    await s.connect()
    await attached(s, 2)
    const third = await s.connect()
    await third.closed
    assert.deepEqual(
      third.frames.map((f) => f.op === -1 && f.error),
      ['TooManyConsumers'],
    )
    assert.equal(third.closeCode, 1008)
    assert.equal(s.fanout.count, 2)
    await s.done()
  })

  it('maxConsumersPerAddr counts per remote address', async () => {
    const s = await setup({ maxConsumersPerAddr: 1 })
    await s.connect()
    await attached(s, 1)
    const second = await s.connect()
    await second.closed
    assert.equal(second.frames[0]?.op === -1 && second.frames[0].error, 'TooManyConsumers')
    await s.done()
  })

  it('close(): every consumer gets 1001, replays stop, later attaches are refused', async () => {
    const s = await setup({ replayBatch: 1 })
    s.write(50)
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => {
      release = r
    })
    const live = await s.connect()
    await attached(s, 1)
    s.log.beforeRead = () => gate
    const replaying = await s.connect({ cursor: 0 })
    await attached(s, 2)
    await eventually(() => s.log.reads === 1, 'replay waiting on the log')
    const closing = s.fanout.close()
    release()
    await closing
    await live.closed
    await replaying.closed
    assert.equal(live.closeCode, 1001)
    assert.equal(replaying.closeCode, 1001)
    assert.equal(s.fanout.count, 0)
    assert.equal(s.log.reads, 1)
    const late = new TestClient(s.server.url)
    await late.closed
    assert.equal(late.closeCode, 1001)
    await s.server.close()
  })

  it('drops a consumer that does not answer pings', async () => {
    const s = await setup({ pingIntervalMs: 500 })
    const answering = await s.connect()
    const silent = await s.connect({ autoPong: false })
    await attached(s, 2)
    await silent.closed
    assert.equal(s.fanout.count, 1)
    assert.equal(s.fanout.stats().pingTimeouts, 1)
    assert.equal(answering.ws.readyState, answering.ws.OPEN)
    await s.done()
  })
})
