// Test support for the hostile-consumer tests: a stand (a real relay fed a steady stream of
// signed commits, with one honest consumer reading from cursor 0), raw WebSocket clients that
// misbehave below what a client library allows, and the checks every such test ends with
// (health, /metrics, descriptors and memory back, the honest consumer complete).
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { WebSocket } from 'ws'
import { type MockPlc, startMockPlc } from '../../src/identity/testing/mock-plc.ts'
import type { RelayOverrides } from '../../src/relay.ts'
import { CommitStream, raiseEventLimits } from './commit-stream.ts'
import { FakePds } from './fake-pds.ts'
import { scaled } from './long-mode.ts'
import { Consumer, eventually, startTestRelay, type TestRelay } from './relay-harness.ts'

export const SUBSCRIBE = '/xrpc/com.atproto.sync.subscribeRepos'
export const CONNECTIONS = scaled(2000, 20_000)
export const CHURN_PARALLEL = 20
export const SLOW_CONSUMERS = scaled(6, 40)
export const HALF_OPEN = scaled(3, 20)
export const PING_MUTE = scaled(3, 20)

// Memory is compared after a full collection, so that garbage not yet collected is not mistaken
// for memory the relay holds on to.
setFlagsFromString('--expose-gc')
export const gc = runInNewContext('gc') as () => void

export const openFds = () => readdirSync('/proc/self/fd').length

export function settledMemory(): { heapUsed: number; arrayBuffers: number } {
  gc()
  const m = process.memoryUsage()
  return { heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers }
}

export function upgradeRequest(target: string): string {
  return `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`
}

/** Sends `request` on a fresh socket; resolves with everything the relay answered before closing. */
export function rawExchange(port: number, request: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(request))
    let text = ''
    socket.on('data', (d) => (text += d.toString('latin1')))
    socket.on('close', () => resolve(text))
    socket.on('error', () => {})
  })
}

/**
 * A raw TCP client that completes the WebSocket upgrade, then stops reading (the socket is paused,
 * so the kernel's buffers fill and then TCP pushes back) and never answers anything, pings included.
 */
export function rawSubscriber(port: number, query = ''): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(upgradeRequest(SUBSCRIBE + query)))
    let head = ''
    const onData = (d: Buffer) => {
      head += d.toString('latin1')
      if (!head.includes('\r\n\r\n')) return
      socket.off('data', onData)
      socket.pause()
      if (head.startsWith('HTTP/1.1 101')) resolve(socket)
      else reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`))
    }
    socket.on('data', onData)
    socket.on('error', () => {})
  })
}

/** Resumes a paused raw socket and resolves once the relay has closed it. */
export function drainUntilClosed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve()
    socket.on('close', () => resolve())
    socket.on('data', () => {})
    socket.resume()
  })
}

export function wsClosed(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) return resolve(1006)
    ws.once('close', (code: number) => resolve(code))
  })
}

export interface Stand {
  plc: MockPlc
  pds: FakePds
  stream: CommitStream
  relay: TestRelay
  honest: Consumer
}

export async function stand(
  letters: string,
  overrides: RelayOverrides,
  flags: readonly string[] = [],
): Promise<Stand> {
  const plc = await startMockPlc({})
  const pds = await FakePds.start()
  const stream = new CommitStream(pds, plc, letters)
  const relay = await startTestRelay({
    plcUrl: plc.url,
    // Churn from one address: the per-address consumer limit is not what this test is about.
    flags: ['--max-connections-per-ip', '10000', ...flags],
    overrides,
  })
  assert.equal((await relay.crawl(pds.hostname)).status, 200)
  await raiseEventLimits(relay.url, pds.hostname)
  await eventually(() => pds.subscriberCount === 1, 10_000, 'relay subscribed')
  await stream.produce(5)
  await eventually(() => relay.relay.log.flushedSeq >= 5, 20_000, 'first events in the log')
  const honest = new Consumer(relay.wsUrl, 0)
  await honest.until(() => honest.messages().length >= 5, 20_000, 'honest consumer caught up')
  return { plc, pds, stream, relay, honest }
}

export async function metrics(relay: TestRelay): Promise<Map<string, number>> {
  const text = await (
    await fetch(`http://127.0.0.1:${relay.relay.metricsAddress()!.port}/metrics`)
  ).text()
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

export async function healthy(relay: TestRelay): Promise<number> {
  return (await fetch(`${relay.url}/xrpc/_health`)).status
}

/** Stops the stream and checks the honest consumer got every commit: seqs 1..N, each once. */
export async function assertHonestComplete(s: Stand): Promise<void> {
  await s.stream.stop()
  const total = s.stream.emitted.length
  await eventually(
    () => s.relay.relay.log.flushedSeq >= total,
    60_000,
    `all ${total} commits in the log`,
  )
  await s.honest.until(() => s.honest.messages().length >= total, 60_000, `${total} events`)
  assert.equal(s.honest.closed, false, 'the honest consumer was never cut off')
  const messages = s.honest.messages()
  assert.deepEqual(
    messages.map((m) => m.body.seq),
    Array.from({ length: total }, (_, i) => i + 1),
    'every seq once, in order, no gap',
  )
  assert.ok(messages.every((m) => m.type === '#commit'))
  assert.deepEqual(
    messages.map((m) => (m.body.commit as { $link: string }).$link).sort(),
    [...s.stream.emitted].sort(),
    'every commit the PDS emitted, exactly once',
  )
}

export async function tearDown(s: Stand | undefined): Promise<void> {
  if (!s) return
  await s.stream.stop()
  s.honest.close()
  await s.relay.close()
  await s.pds.close()
  await s.plc.close()
}
