// A burst of slow consumers (`--slow-consumers N`): N firehose subscribers that complete the
// WebSocket handshake and then never read, so the relay's send buffers for them fill until its
// per-consumer bound or its global consumer-buffer budget cuts them. Each connects from its own
// loopback address (127.0.x.y), so the relay's per-address limit does not refuse them. They
// leave together after a while; the run records what they cost and how much of it the relay
// gave back. Whether the relay cut them is read from its metrics (a paused socket never reads
// the close).
import { randomBytes } from 'node:crypto'
import { request } from 'node:http'
import type { Socket } from 'node:net'
import { takeProbe } from '../soak/gc-probe.ts'
import { byLabel, scrape, value } from '../soak/sample.ts'
import { nowMs, sleep } from './clock.ts'
import { memory, round } from './proc.ts'

export interface SlowConsumers {
  readonly connected: number
  /** Closes every socket. */
  leave(): void
}

/** The `i`th loopback source address: 127.0.1.1 to 127.0.1.254, then 127.0.2.1, ... */
export function loopbackSource(i: number): string {
  return `127.0.${1 + Math.floor(i / 254)}.${(i % 254) + 1}`
}

export async function connectSlowConsumers(wsUrl: string, count: number): Promise<SlowConsumers> {
  const u = new URL(wsUrl)
  const sockets: Socket[] = []
  const connectOne = (i: number) =>
    new Promise<void>((resolve) => {
      const req = request({
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        localAddress: loopbackSource(i),
        headers: {
          Connection: 'Upgrade',
          Upgrade: 'websocket',
          'Sec-WebSocket-Version': '13',
          'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
        },
      })
      req.on('upgrade', (_res, socket: Socket) => {
        socket.pause() // never read: the kernel's buffers fill, then the relay's
        socket.on('error', () => {})
        sockets.push(socket)
        resolve()
      })
      req.on('response', (res) => {
        res.resume()
        resolve()
      })
      req.on('error', () => resolve())
      req.end()
    })
  try {
    for (let i = 0; i < count; i++) await connectOne(i)
  } catch (err) {
    for (const s of sockets) s.destroy()
    throw err
  }
  return {
    connected: sockets.length,
    leave() {
      for (const s of sockets) s.destroy()
    },
  }
}

export interface SlowBurstOptions {
  readonly wsUrl: string
  readonly metricsUrl: string | undefined
  /** The relay's inspector (ours only): live RSS after forced full collections. */
  readonly debuggerUrl: string | undefined
  readonly pid: number | undefined
  readonly count: number
  readonly seconds: number
  /** The measured window, in the run's clock (ms). */
  readonly windowStart: number
  readonly windowEnd: number
  readonly log: (line: string) => void
}

/**
 * The burst and its figures: RSS just before it and its peak while they are connected, the
 * relay's consumer buffers just before they leave, how many of them the relay cut (too slow, or
 * over the buffer budget), and when they came and went (seconds into the window). With our
 * relay, also the live RSS (after a forced full collection) before the burst, just before they
 * leave, and near the window's end, with where it sits: the memory given back.
 */
export async function slowBurst(o: SlowBurstOptions): Promise<Record<string, unknown>> {
  const target =
    o.pid && o.debuggerUrl && o.metricsUrl
      ? {
          pid: o.pid,
          debuggerUrl: o.debuggerUrl,
          metricsUrl: o.metricsUrl,
          // The allocator returns freed pages within seconds; a short burst (the smoke test)
          // waits less.
          settleMs: Math.min(5000, o.seconds * 1000),
        }
      : undefined
  const at = () => round((nowMs() - o.windowStart) / 1000, 1)
  // Live RSS, and where it sits: V8's pages (every isolate) and the allocator's memory outside
  // them; the main heap and its Buffers.
  const breakdown: Record<string, Record<string, number>> = {}
  const live = async (when: string) => {
    if (!target) return null
    const p = await takeProbe(target, 0)
    breakdown[when] = {
      atSecond: at(),
      v8PagesMB: round(p.v8PagesAfterMB, 1),
      allocatorMB: round(p.otherAnonAfterMB, 1),
      mainHeapUsedMB: round(p.heapUsedAfterMB, 1),
      buffersMB: round(p.externalAfterMB, 1),
    }
    return round(p.rssAfterMB, 1)
  }
  const cuts = async () => {
    if (!o.metricsUrl) return null
    const r = byLabel(await scrape(o.metricsUrl), 'relay_consumer_rejections_total', 'reason')
    return (r['too-slow'] ?? 0) + (r['buffers-full'] ?? 0)
  }
  const liveRssBeforeMB = await live('before')
  const rssBefore = o.pid ? (await memory(o.pid)).rss : 0
  const cutsBefore = await cuts()
  const slow = await connectSlowConsumers(o.wsUrl, o.count)
  const connectedAtSecond = at()
  o.log(`${slow.connected} of ${o.count} slow consumers connected`)
  let peak = 0
  let atLeave: Awaited<ReturnType<typeof scrape>> | null = null
  let cutByRelay: number | null = null
  let liveRssWithMB: number | null = null
  try {
    const until = Math.min(nowMs() + o.seconds * 1000, o.windowEnd)
    while (nowMs() < until) {
      await sleep(250)
      if (o.pid) peak = Math.max(peak, (await memory(o.pid)).rss)
    }
    atLeave = o.metricsUrl ? await scrape(o.metricsUrl) : null
    const cutsAtLeave = await cuts()
    cutByRelay = cutsAtLeave === null || cutsBefore === null ? null : cutsAtLeave - cutsBefore
    liveRssWithMB = await live('with') // still connected: they leave once it is read
  } finally {
    slow.leave()
  }
  const leftAtSecond = at()
  o.log(`slow consumers left (${cutByRelay ?? '?'} cut by the relay before)`)
  // Settle, then the live RSS once more, before the window ends.
  await sleep(Math.max(0, o.windowEnd - nowMs() - 10_000))
  const liveRssAfterMB = await live('after')
  const mb = (b: number) => round(b / 2 ** 20, 1)
  return {
    count: o.count,
    connected: slow.connected,
    cutByRelay,
    connectedAtSecond,
    leftAtSecond,
    rssBeforeMB: mb(rssBefore),
    rssPeakMB: mb(peak),
    consumerBufferedMBAtLeave: atLeave ? mb(value(atLeave, 'relay_consumer_buffered_bytes')) : null,
    liveRssBeforeMB,
    liveRssWithMB,
    liveRssAfterMB,
    liveBreakdown: breakdown,
  }
}
