// Socket threads beyond what the connection suites check over them (host-connection*.test.ts
// run every case with the socket on a thread too): threads sharing the lines, back-pressure from
// a slow main thread, a thread that dies (its lines end, their connections reconnect from their
// cursors on a new thread, after a pause when it died right after starting), and closing.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { describe, it } from 'node:test'
import { Worker } from 'node:worker_threads'
import { HostConnection } from './host-connection.ts'
import { MAX_UNACKED_BYTES } from './socket-messages.ts'
import { type LineEvents, LocalSockets, type SocketEnd } from './socket-opener.ts'
import { SocketThreads } from './socket-threads.ts'
import { FakePds } from './testing/fake-pds.ts'
import { identityFrame } from './testing/frames.ts'
import { Recorder } from './testing/recorder.ts'
import { TEST_USER_AGENT } from './testing/setup.ts'

const CRASHING = new URL('./testing/crashing-socket-worker.ts', import.meta.url)

/** A host that sends `count` numbered frames of 512 KiB to whoever connects. */
const HOST_THREAD = `
const { parentPort, workerData } = require('node:worker_threads')
const { WebSocketServer } = require('ws')
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 }, () =>
  parentPort.postMessage(wss.address().port))
wss.on('connection', (ws) => {
  for (let i = 0; i < workerData.count; i++) {
    const frame = Buffer.alloc(512 * 1024)
    frame[0] = i & 0xff
    frame[1] = i >> 8
    ws.send(frame)
  }
})
`

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

function events(
  onFrame: (raw: Uint8Array) => void = () => {},
): LineEvents & { ends: SocketEnd[]; opened: number } {
  const rec = {
    ends: [] as SocketEnd[],
    opened: 0,
    refused() {},
    open() {
      rec.opened++
    },
    received() {},
    frame: onFrame,
    tooLarge() {},
    closed(end: SocketEnd) {
      rec.ends.push(end)
    },
  }
  return rec
}

describe('SocketThreads', () => {
  it('opens lines on its threads, counts their busy time, and ends open lines on close', async (t) => {
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
      assert.equal(r.ends[0]!.why, 'the relay is stopping')
    }
    assert.throws(() => threads.open(dial(`ws://${pds.hostname}/`), events()), /closed/)
  })

  it('spreads lines evenly: a thread that dies takes only its own lines', async (t) => {
    const pds = await FakePds.start()
    t.after(() => pds.close())
    const threads = new SocketThreads({ threads: 2, allowInsecure: true, workerUrl: CRASHING })
    t.after(() => threads.close())
    const recs = [events(), events(), events(), events()]
    for (const r of recs) threads.open(dial(`ws://${pds.hostname}/`), r)
    for (let i = 0; i < 4; i++) await pds.next()
    await until(() => recs.every((r) => r.opened === 1), 'all open')
    // Two lines on each thread; the dial that kills its thread goes to one with the fewest.
    const doomed = events()
    threads.open(dial('ws://127.0.0.1:1/crash-thread'), doomed)
    await until(() => doomed.ends.length === 1, 'the thread died')
    await until(() => recs.filter((r) => r.ends.length === 1).length >= 2, 'its lines ended')
    assert.equal(recs.filter((r) => r.ends.length === 1).length, 2)
    assert.equal(threads.lines, 2)
  })

  it('stops reading while the main thread is behind, and loses nothing', async (t) => {
    // The host runs on a thread of its own (a host in this thread would be slowed down by the
    // very busy loop below): 80 frames of 512 KiB (40 MiB, five times the bound), numbered in
    // their first bytes, sent as fast as loopback takes them.
    const count = 80
    const host = new Worker(HOST_THREAD, { eval: true, workerData: { count } })
    t.after(() => host.terminate())
    const [port] = (await once(host, 'message')) as [number]
    const threads = new SocketThreads({ threads: 1, allowInsecure: true })
    t.after(() => threads.close())
    const got: number[] = []
    let mostWaiting = 0
    const rec = events((raw) => {
      got.push(raw[0]! | (raw[1]! << 8))
      mostWaiting = Math.max(mostWaiting, threads.waitingBytes)
      // The main thread spends 20 ms on each frame: far slower than the socket thread reads.
      const until = Date.now() + 20
      while (Date.now() < until) {}
    })
    threads.open({ ...dial(`ws://127.0.0.1:${port}/`), maxFrameBytes: 1 << 20 }, rec)
    await until(() => got.length === count, 'every frame', 20_000)
    // What waited for this thread never went past the bound by more than the frame that crossed
    // it and one the WebSocket had already read (without the bound the thread reads all 40 MiB
    // at once, and nearly all of it waits here).
    assert.ok(mostWaiting > 0)
    assert.ok(mostWaiting <= MAX_UNACKED_BYTES + 2 * 512 * 1024, `waited ${mostWaiting} bytes`)
    assert.deepEqual(
      got,
      Array.from({ length: count }, (_, i) => i),
    )
    assert.ok(threads.stalls >= 1, `stalls ${threads.stalls}`)
    assert.ok(MAX_UNACKED_BYTES * 4 < count * 512 * 1024)
  })

  it('refuses a URL that is not a WebSocket URL at once, as a local socket does', async () => {
    const threads = new SocketThreads({ threads: 1, allowInsecure: true })
    try {
      assert.throws(() => threads.open(dial('http://127.0.0.1:1/'), events()), SyntaxError)
      assert.throws(
        () => new LocalSockets().open(dial('http://127.0.0.1:1/'), events()),
        SyntaxError,
      )
      assert.throws(() => threads.open(dial('ws+unix:///tmp/x.sock'), events()), SyntaxError)
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
      now: () => 0, // every failure comes right after the thread started: restarts pause
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
    await until(() => doomed.ends.length === 1, 'the lines ended')
    assert.match(doomed.ends[0]!.error ?? '', /socket thread failed: the test crashed this thread/)
    assert.equal(errors.length, 1)
    assert.equal(threads.restarts, 1)
    // It died right after it started: its replacement waits a little, and a dial meanwhile
    // waits for it (a dial refused for the relay's own trouble would count against the host).
    const patient = events()
    threads.open(dial(`ws://${pds.hostname}/waited`), patient)
    await rec.until(() => rec.states.includes('disconnected'), 'the connection ended')

    const both = [await pds.next(), await pds.next()]
    const second = both.find((s) => s.url.pathname !== '/waited')!
    assert.ok(both.some((s) => s.url.pathname === '/waited'))
    await until(() => patient.opened === 1, 'the waiting dial opened')
    assert.equal(second.cursor, '2')
    await rec.until(() => conn.connected, 'reconnected')
    await second.send(identityFrame(3))
    await rec.until(() => rec.seqs.length === 3, 'an event on the new thread')
    assert.deepEqual(rec.seqs, [1, 2, 3])
    // Only the lost connection counts as a failure: no dial was refused meanwhile.
    assert.ok(conn.stats.consecutiveFailures <= 1, `failures ${conn.stats.consecutiveFailures}`)
  })
})

describe('SocketThreads restarts', () => {
  it('a thread that cannot start is retried after pauses that grow, not in a loop', async () => {
    const errors: unknown[] = []
    const pauses: number[] = []
    const threads = new SocketThreads({
      threads: 1,
      allowInsecure: true,
      workerUrl: new URL('./testing/no-such-socket-worker.ts', import.meta.url),
      onThreadError: (err, restartInMs) => {
        errors.push(err)
        pauses.push(restartInMs)
      },
      now: () => 0, // every failure comes right after the thread started
    })
    try {
      const line = events()
      threads.open(dial('ws://127.0.0.1:1/'), line)
      await until(() => line.ends.length === 1, 'the waiting dial ended with its thread')
      assert.match(line.ends[0]!.error ?? '', /socket thread failed/)
      await until(() => pauses.length >= 3, 'three failed starts')
      // With no pause the thread would be recreated at once, again and again.
      assert.deepEqual(pauses.slice(0, 3), [100, 200, 400])
      assert.equal(threads.restarts, errors.length)
    } finally {
      await threads.close()
    }
  })
})

async function until(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}
