// Replay throughput: events/s from the event log on disk (real `EventLog`, page cache warm) to
// one consumer from cursor 0, at several replay windows (what one replay may keep queued in its
// socket). The consumer lives in a child process (its own core) and counts raw bytes after the
// WebSocket handshake, so its parsing is not what is measured. Records are ~1.7 KB `#commit`
// frames, the average size seen on the network. Nothing here asserts on speed.
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { request } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { WebSocketServer } from 'ws'
import { note } from '../../bench/harness.ts'
import { ManualClock, openTestLog, tempDir, testInput } from '../eventlog/testing.ts'
import { Fanout } from './fanout.ts'

const EVENTS = Number(process.env.REPLAY_BENCH_EVENTS ?? 200_000)
const BLOCK_BYTES = 1_500
const WINDOWS_MIB = [1, 4, 16, 64]

if (process.argv[2] === '--client') await runClient(process.argv[3] ?? '', Number(process.argv[4]))
else await runServer()

async function runClient(url: string, target: number): Promise<void> {
  const u = new URL(url)
  const req = request({
    host: u.hostname,
    port: u.port,
    path: `${u.pathname}?cursor=0`,
    headers: {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': Buffer.from('replay-bench-key').toString('base64'),
    },
  })
  req.end()
  const [, socket, head] = (await once(req, 'upgrade')) as [unknown, Socket, Buffer]
  let got = head.length
  socket.on('data', (chunk: Buffer) => {
    got += chunk.length
    if (got >= target) {
      process.send?.({ done: true })
      socket.destroy()
    }
  })
}

async function runServer(): Promise<void> {
  await using dir = await tempDir('replay-bench-')
  const clock = new ManualClock()
  const log = await openTestLog(dir.path, clock, { retentionMs: 365 * 86_400_000 })
  let wireBytes = 0
  for (let n = 1; n <= EVENTS; n++) {
    const rec = log.append(testInput(n, BLOCK_BYTES))
    wireBytes += rec.frame.length + (rec.frame.length < 126 ? 2 : 4)
    if (n % 5000 === 0) await log.flush()
  }
  await log.flush()
  note(
    `${EVENTS.toLocaleString('en-US')} events, ${(wireBytes / 1024 ** 2).toFixed(0)} MiB on the wire`,
  )
  for (const mib of WINDOWS_MIB) {
    const fanout = new Fanout({ log, maxBufferedBytes: 64 << 20, replayWindowBytes: mib << 20 })
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
    wss.on('connection', (ws) =>
      fanout.attach(ws, { cursor: 0, remoteAddr: 'bench', userAgent: '' }),
    )
    await once(wss, 'listening')
    const { port } = wss.address() as AddressInfo
    const rss0 = process.memoryUsage().rss
    let peakRss = rss0
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss)
    }, 50)
    const start = performance.now()
    const child = fork(new URL(import.meta.url).pathname, [
      '--client',
      `ws://127.0.0.1:${port}/`,
      String(wireBytes),
    ])
    await once(child, 'message')
    const seconds = (performance.now() - start) / 1000
    clearInterval(sampler)
    const rate = Math.round(EVENTS / seconds).toLocaleString('en-US')
    const peak = ((peakRss - rss0) / 1024 ** 2).toFixed(0)
    console.log(
      `window ${String(mib).padStart(2)} MiB: ${rate.padStart(9)} events/s  (RSS +${peak} MiB at peak)`,
    )
    child.kill()
    await fanout.close()
    await new Promise<void>((resolve) => wss.close(() => resolve()))
  }
  await log.close()
}
