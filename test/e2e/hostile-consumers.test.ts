// Hostile consumers (issue 11): a real relay fed a steady stream of signed commits by a fake PDS,
// with one honest consumer reading from cursor 0 the whole time, while others misbehave:
// - thousands of connects and disconnects: clean closes, resets during replay, resets and
//   half-sent requests in the middle of the handshake, aborts at random moments;
// - bad cursors (negative, not a number, fractions, 2^64, huge strings, given twice) are refused
//   with a 400 before any upgrade, future cursors with the error frame FutureCursor (§4 item 1);
// - consumers that never read are cut off with ConsumerTooSlow alone (§4 item 2).
// (Half-open and ping-mute sockets: hostile-consumers-quiet.test.ts.)
// Throughout, the relay stays healthy (/xrpc/_health 200), its file descriptors and memory come
// back once the hostile consumers are gone, the counters in /metrics say what happened, and the
// honest consumer receives every event, in order, with no gap and no duplicate.
// `RELAY_TEST_LONG=1` runs ten times the connections and more of every kind of misbehaving consumer.
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { WebSocket } from 'ws'
import {
  assertHonestComplete,
  CHURN_PARALLEL,
  CONNECTIONS,
  drainUntilClosed,
  healthy,
  metrics,
  openFds,
  rawExchange,
  rawSubscriber,
  SLOW_CONSUMERS,
  type Stand,
  SUBSCRIBE,
  settledMemory,
  stand,
  tearDown,
  upgradeRequest,
  wsClosed,
} from '../support/consumer-stand.ts'
import { Consumer, eventually } from '../support/relay-harness.ts'

describe('hostile consumers: churn, bad cursors, consumers that never read', () => {
  let s: Stand
  let baselineFds = 0
  let baselineMemory = { heapUsed: 0, arrayBuffers: 0 }

  before(async () => {
    s = await stand('hij', {}, ['--consumer-buffer', String(256 * 1024)])
    s.stream.start(20)
    // Open the keep-alive connections the checks below use before counting descriptors.
    assert.equal(await healthy(s.relay), 200)
    await metrics(s.relay)
    baselineFds = openFds()
    baselineMemory = settledMemory()
  })
  after(() => tearDown(s))

  test(`${CONNECTIONS} connects and disconnects, many in the middle of the handshake`, {
    timeout: 300_000,
  }, async () => {
    const port = s.relay.relay.address().port
    const before = s.relay.relay.fanout.stats()
    let opened = 0
    const viaWs = (cursor: string, onOpen: (ws: WebSocket) => void, abortAfterMs?: number) =>
      new Promise<void>((resolve) => {
        const ws = new WebSocket(`${s.relay.wsUrl}${SUBSCRIBE}${cursor}`)
        ws.on('error', () => {})
        ws.on('open', () => {
          opened++
          onOpen(ws)
        })
        ws.on('close', () => resolve())
        if (abortAfterMs !== undefined) setTimeout(() => ws.terminate(), abortAfterMs)
      })
    const kinds: ((i: number) => Promise<unknown>)[] = [
      // A clean close handshake right after the upgrade.
      () => viaWs('', (ws) => ws.close()),
      // A reset while the relay replays everything from cursor 0 to it.
      () => viaWs('?cursor=0', (ws) => ws.terminate()),
      // A reset right after sending the upgrade request.
      () =>
        new Promise<void>((resolve) => {
          const socket = connect(port, '127.0.0.1', () => {
            socket.write(upgradeRequest(SUBSCRIBE))
            socket.resetAndDestroy()
          })
          socket.on('error', () => {})
          socket.on('close', () => resolve())
        }),
      // Half of the request's headers, then gone.
      () =>
        new Promise<void>((resolve) => {
          const socket = connect(port, '127.0.0.1', () => {
            socket.write(upgradeRequest(SUBSCRIBE).slice(0, 60), () => socket.destroy())
          })
          socket.on('error', () => {})
          socket.on('close', () => resolve())
        }),
      // Torn down after 0–3 ms: before, during or just after the handshake.
      (i) => viaWs('', () => {}, Math.floor(i / kinds.length) % 4),
      // A completed upgrade (read by hand), then a reset.
      () =>
        rawSubscriber(port).then(
          (socket) => socket.resetAndDestroy(),
          () => {},
        ),
    ]
    const health: number[] = []
    let churning = true
    const probe = (async () => {
      while (churning) {
        health.push(await healthy(s.relay))
        await new Promise((r) => setTimeout(r, 250))
      }
    })()
    let next = 0
    let peakRss = 0
    await Promise.all(
      Array.from({ length: CHURN_PARALLEL }, async () => {
        while (next < CONNECTIONS) {
          const i = next++
          await kinds[i % kinds.length]!(i)
          if (i % 200 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss)
        }
      }),
    )
    churning = false
    await probe
    assert.ok(health.length > 0 && health.every((st) => st === 200), `health: ${health}`)
    // Every hostile socket is gone on the relay's side too: only the honest consumer remains,
    // and the process holds no more descriptors than before (a little slack for keep-alives).
    await eventually(() => s.relay.relay.fanout.count === 1, 30_000, 'only the honest one left')
    await eventually(() => openFds() <= baselineFds + 16, 30_000, 'descriptors back to baseline')
    const after = s.relay.relay.fanout.stats()
    const m = await metrics(s.relay)
    assert.ok(after.accepted - before.accepted >= opened, 'every opened subscription was counted')
    assert.equal(m.get('relay_consumers_accepted_total'), after.accepted)
    assert.equal(m.get('relay_consumers{state="live"}'), 1)
    assert.equal(m.get('relay_consumers{state="replaying"}'), 0)
    assert.equal(after.tooManyConsumers, 0)
    assert.equal(after.replayFailures, 0, 'a reset during replay is not a replay failure')
    assert.equal(await healthy(s.relay), 200)
    assert.equal(s.honest.closed, false)
    const mem = settledMemory()
    const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`
    assert.ok(
      mem.arrayBuffers - baselineMemory.arrayBuffers < 64 * 2 ** 20,
      `buffers after the churn: ${mib(mem.arrayBuffers)} (before ${mib(baselineMemory.arrayBuffers)}, peak rss ${mib(peakRss)})`,
    )
    assert.ok(
      mem.heapUsed - baselineMemory.heapUsed < 128 * 2 ** 20,
      `heap after the churn: ${mib(mem.heapUsed)} (before ${mib(baselineMemory.heapUsed)})`,
    )
  })

  test('bad cursors get a 400 naming the cursor before any upgrade; the relay keeps serving', {
    timeout: 60_000,
  }, async () => {
    const port = s.relay.relay.address().port
    const bad = [
      '-1',
      'abc',
      '1.5',
      '1e3',
      '0x10',
      '+1',
      '%20',
      '%00',
      '18446744073709551616', // 2^64
      '9007199254740992', // 2^53: not a safe integer
      '9'.repeat(4000),
      '5&cursor=abc', // given twice, either order
      'abc&cursor=5',
      '5&cursor=6',
    ]
    for (const cursor of bad) {
      const answer = await rawExchange(port, upgradeRequest(`${SUBSCRIBE}?cursor=${cursor}`))
      assert.match(answer, /^HTTP\/1\.1 400 /, cursor.slice(0, 40))
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as {
        error: string
        message: string
      }
      assert.equal(body.error, 'InvalidRequest')
      assert.match(body.message, /cursor/)
    }
    // A request target too big for the HTTP parser is refused as a malformed request.
    const huge = await rawExchange(
      port,
      upgradeRequest(`${SUBSCRIBE}?cursor=${'1'.repeat(100_000)}`),
    )
    assert.match(huge, /^HTTP\/1\.1 (400|431) /)
    assert.equal(await healthy(s.relay), 200)
    assert.equal(s.relay.relay.fanout.count, 1, 'none of them became a consumer')
  })

  test('future cursors: the error frame FutureCursor, then a close', {
    timeout: 60_000,
  }, async () => {
    const before = s.relay.relay.fanout.stats().futureCursor
    for (const cursor of [s.relay.relay.log.flushedSeq + 1000, 2 ** 53 - 1]) {
      const c = new Consumer(s.relay.wsUrl, cursor)
      await c.until(() => c.closed, 20_000, 'closed')
      assert.deepEqual(
        c.frames.map((f) => f.frame),
        [{ op: -1, error: 'FutureCursor', message: 'Cursor in the future.' }],
      )
      assert.equal(c.ws.readyState, WebSocket.CLOSED)
    }
    assert.equal(s.relay.relay.fanout.stats().futureCursor - before, 2)
    const m = await metrics(s.relay)
    assert.equal(m.get('relay_consumer_rejections_total{reason="future-cursor"}'), before + 2)
  })

  test(`${SLOW_CONSUMERS} consumers that never read are cut off with ConsumerTooSlow; the honest one gets everything`, {
    timeout: 240_000,
  }, async () => {
    const port = s.relay.relay.address().port
    const before = s.relay.relay.fanout.stats().tooSlow
    const raws: Socket[] = []
    const clients: WebSocket[] = []
    for (let i = 0; i < SLOW_CONSUMERS; i++) {
      if (i % 2 === 0) {
        raws.push(await rawSubscriber(port))
      } else {
        const ws = new WebSocket(`${s.relay.wsUrl}${SUBSCRIBE}`)
        ws.on('error', () => {})
        await new Promise((r) => ws.once('open', r))
        // Stop reading: the relay's send buffer for it fills up.
        ;(ws as unknown as { _socket: Socket })._socket.pause()
        clients.push(ws)
      }
    }
    await eventually(
      () => s.relay.relay.fanout.count === 1 + SLOW_CONSUMERS,
      20_000,
      'slow consumers attached',
    )
    // Big events, in rounds, until every slow consumer's buffers (the kernel's included) are full.
    const host = s.relay.relay.hosts.list()[0]!
    for (let round = 0; round < 60; round++) {
      if (s.relay.relay.fanout.stats().tooSlow - before >= SLOW_CONSUMERS) break
      await s.stream.produce(20, 100_000)
      // Waits for this round's last event, not for whatever the steady stream emitted last: that
      // target moves every 20 ms, and with the poll on the same period it could stay one event
      // ahead of the log for good while the relay kept up. The host's cursor passes an upstream
      // seq only once it and every one before it are written (or dropped).
      const roundEnd = s.stream.upstreamSeq
      await eventually(
        () => (s.relay.relay.hosts.cursor(host.id) ?? 0) >= roundEnd,
        60_000,
        'round written',
      ).catch((err: unknown) => {
        const drops = Object.fromEntries(s.relay.relay.drops.totals())
        throw new Error(
          `${err}: host cursor ${s.relay.relay.hosts.cursor(host.id)} of ${roundEnd}, log at ${s.relay.relay.log.flushedSeq}; drops ${JSON.stringify(drops)}; host ${JSON.stringify(s.relay.relay.hosts.get(host.id))}`,
        )
      })
    }
    assert.equal(s.relay.relay.fanout.stats().tooSlow - before, SLOW_CONSUMERS)
    // The relay closes them itself (a peer that does not read cannot finish a close handshake).
    await eventually(() => s.relay.relay.fanout.count === 1, 30_000, 'slow consumers gone')
    for (const ws of clients) {
      const closed = wsClosed(ws)
      ;(ws as unknown as { _socket: Socket })._socket.resume()
      await closed
    }
    await Promise.all(raws.map(drainUntilClosed))
    const m = await metrics(s.relay)
    assert.equal(
      m.get('relay_consumer_rejections_total{reason="too-slow"}'),
      before + SLOW_CONSUMERS,
    )
    assert.equal(s.honest.closed, false, 'the honest consumer was not cut off with them')
    // What the relay held for them was their sockets' send buffers, gone with the sockets. (Memory
    // is not compared here: the fake PDS, the test repos and the honest consumer each keep a copy
    // of every big event, however many rounds it took to fill the kernel's buffers.)
    await eventually(() => openFds() <= baselineFds + 16, 30_000, 'descriptors back to baseline')
  })

  test('the honest consumer received every event in order, with no gap', {
    timeout: 120_000,
  }, async () => {
    assert.equal(await healthy(s.relay), 200)
    await assertHonestComplete(s)
  })
})
