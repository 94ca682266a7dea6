// Socket threads beyond what the connection suites check over them (host-connection*.test.ts
// run every case with the socket on a thread too): threads sharing the lines, a thread that
// dies (its lines end, their connections reconnect from their cursors on a new thread), and
// closing the threads.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { HostConnection } from './host-connection.ts'
import type { LineEvents, SocketEnd } from './socket-opener.ts'
import { SocketThreads } from './socket-threads.ts'
import { FakePds } from './testing/fake-pds.ts'
import { identityFrame } from './testing/frames.ts'
import { Recorder } from './testing/recorder.ts'
import { TEST_USER_AGENT } from './testing/setup.ts'

const CRASHING = new URL('./testing/crashing-socket-worker.ts', import.meta.url)

function dial(url: string) {
  return {
    url,
    hostname: new URL(url).host,
    userAgent: TEST_USER_AGENT,
    maxFrameBytes: 1 << 20,
    connectTimeoutMs: 5_000,
    pingIntervalMs: 30_000,
    frameTimeoutMs: 60_000,
    closeTimeoutMs: 1_000,
  }
}

function events(): LineEvents & { ends: SocketEnd[]; opened: number } {
  const rec = {
    ends: [] as SocketEnd[],
    opened: 0,
    refused() {},
    open() {
      rec.opened++
    },
    received() {},
    frame() {},
    tooLarge() {},
    closed(end: SocketEnd) {
      rec.ends.push(end)
    },
  }
  return rec
}

describe('SocketThreads', () => {
  it('spreads lines over its threads, counts their busy time, and ends open lines on close', async (t) => {
    const pds = await FakePds.start()
    t.after(() => pds.close())
    const threads = new SocketThreads({ threads: 2, allowInsecure: true })
    const recs = [events(), events(), events(), events()]
    const lines = recs.map((r) => threads.open(dial(`ws://${pds.hostname}/xrpc/x`), r))
    for (let i = 0; i < 4; i++) await pds.next()
    assert.equal(threads.size, 2)
    assert.equal(threads.lines, 4)
    await until(() => recs.every((r) => r.opened === 1), 'all open')
    assert.ok(lines.every((l) => l.open))
    assert.ok(threads.busyMs() > 0)
    await threads.close()
    assert.equal(threads.lines, 0)
    for (const r of recs) {
      assert.equal(r.ends.length, 1)
      assert.equal(r.ends[0]!.error, 'the relay is stopping')
    }
    assert.throws(() => threads.open(dial(`ws://${pds.hostname}/`), events()), /closed/)
  })

  it('refuses a URL that is not a WebSocket URL at once, as a local socket does', async () => {
    const threads = new SocketThreads({ threads: 1, allowInsecure: true })
    try {
      assert.throws(() => threads.open(dial('http://127.0.0.1:1/'), events()), SyntaxError)
      assert.throws(() => threads.open({ ...dial('ws://x/'), url: 'not a url' }, events()))
      assert.equal(threads.lines, 0)
    } finally {
      await threads.close()
    }
  })

  it('a thread that dies ends its lines; their connections reconnect from their cursor on a new thread', async (t) => {
    const pds = await FakePds.start()
    t.after(() => pds.close())
    const errors: unknown[] = []
    const threads = new SocketThreads({
      threads: 1,
      allowInsecure: true,
      workerUrl: CRASHING,
      onThreadError: (err) => errors.push(err),
    })
    t.after(() => threads.close())
    const rec = new Recorder()
    const conn = new HostConnection({
      host: { id: 1, hostname: pds.hostname, ssl: false },
      startCursor: 0,
      userAgent: TEST_USER_AGENT,
      handlers: rec,
      backoff: { initialMs: 5, maxMs: 20 },
      sockets: threads,
    })
    t.after(() => conn.stop())
    conn.start()
    const first = await pds.next()
    await first.send(identityFrame(1))
    await first.send(identityFrame(2))
    await rec.until(() => rec.seqs.length === 2, 'two events')

    const doomed = events()
    threads.open(dial('ws://127.0.0.1:1/crash-thread'), doomed)
    await rec.until(() => rec.states.includes('disconnected'), 'the connection ended')
    assert.match(conn.stats.lastError ?? '', /socket thread failed: the test crashed this thread/)
    assert.equal(doomed.ends.length, 1)
    assert.equal(errors.length, 1)
    assert.equal(threads.restarts, 1)

    const second = await pds.next()
    assert.equal(second.cursor, '2')
    await rec.until(() => conn.connected, 'reconnected')
    await second.send(identityFrame(3))
    await rec.until(() => rec.seqs.length === 3, 'an event on the new thread')
    assert.deepEqual(rec.seqs, [1, 2, 3])
  })
})

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}
