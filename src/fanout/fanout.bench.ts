// Fan-out throughput: frames/s delivered in total to 50 local consumers (1 KiB frames), through
// `Fanout.broadcast` (one pre-framed buffer per batch, one socket write per consumer) at several
// batch sizes, against two baselines written here: `ws.send` per frame per consumer, and the
// same inside `socket.cork()`. The consumers live in a child process (its own core) and count
// raw bytes after the WebSocket handshake, so the clients' own parsing is not what is measured.
// Nothing here asserts on speed.
import { once } from 'node:events'
import type { Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { WebSocket } from 'ws'
import { note } from '../../bench/harness.ts'
import { encodeMessageFrame } from '../protocol/frame.ts'
import { Fanout } from './fanout.ts'
import { forkChildConsumers, openByteCounters } from './testing/byte-counters.ts'
import type { LogReader, LogRecord } from './types.ts'

const CONSUMERS = 50
const FRAME_BYTES = 1024
const FRAMES_PER_RUN = 12_000
const PAUSE_ABOVE = 4 << 20

if (process.argv[2] === '--clients') await runClients(process.argv[3] ?? '')
else await runServer()

// ---- consumers (child process) ----

async function runClients(url: string): Promise<void> {
  let target = Number.POSITIVE_INFINITY
  const check = (): void => {
    if (counts.every((c) => c >= target)) {
      target = Number.POSITIVE_INFINITY
      process.send?.({ done: true })
    }
  }
  const counts = await openByteCounters(url, CONSUMERS, (_, bytes) => {
    if (bytes >= target) check()
  })
  process.on('message', (m: { target: number }) => {
    target = m.target
    check()
  })
  process.send?.({ ready: true })
}

// ---- relay side ----

async function runServer(): Promise<void> {
  const log: LogReader = { flushedSeq: 0, oldestSeq: () => null, read: async () => [] }
  const fanout = new Fanout({ log, maxBufferedBytes: 256 << 20 })
  const sockets: WebSocket[] = []
  const consumers = await forkChildConsumers(
    fanout,
    fileURLToPath(import.meta.url),
    CONSUMERS,
    (ws) => sockets.push(ws),
  )
  const child = consumers.child

  const records: LogRecord[] = []
  let seq = 0
  const makeRecord = (): LogRecord => {
    seq++
    const frame = encodeMessageFrame('#identity', { seq, did: 'did:plc:bench', pad: '' })
    const padded = encodeMessageFrame('#identity', {
      seq,
      did: 'did:plc:bench',
      pad: 'x'.repeat(FRAME_BYTES - frame.length),
    })
    return {
      seq,
      timeMs: 0,
      hostId: 1,
      upstreamSeq: seq,
      did: 'did:plc:bench',
      type: '#identity',
      frame: padded,
    }
  }
  for (let i = 0; i < 64; i++) records.push(makeRecord())
  const wireBytes = (records[0]?.frame.length ?? 0) + 4 // 16-bit length header
  let delivered = 0

  const run = async (
    name: string,
    batch: number,
    send: (b: LogRecord[]) => void,
  ): Promise<void> => {
    const batches = Math.ceil(FRAMES_PER_RUN / batch)
    const frames = batches * batch
    delivered += frames * wireBytes
    // Fresh seqs for every batch (the same frame bytes): fanout skips seqs it has already sent.
    const planned: LogRecord[][] = []
    for (let i = 0; i < batches; i++) {
      planned.push(records.slice(0, batch).map((r) => ({ ...r, seq: ++seq })))
    }
    const doneP = once(child, 'message')
    child.send({ target: delivered })
    const start = performance.now()
    for (let i = 0; i < batches; i++) {
      send(planned[i] ?? [])
      if (i % 8 === 7) {
        while (sockets.some((s) => s.bufferedAmount > PAUSE_ABOVE)) {
          await new Promise((r) => setImmediate(r))
        }
      }
    }
    await doneP
    const seconds = (performance.now() - start) / 1000
    const rate = Math.round((frames * CONSUMERS) / seconds).toLocaleString('en-US')
    console.log(`${name.padEnd(56)} ${rate.padStart(12)} frames/s delivered`)
  }

  const perFrame = (b: LogRecord[]): void => {
    for (const ws of sockets) for (const r of b) ws.send(r.frame, { binary: true })
  }
  const corked = (b: LogRecord[]): void => {
    for (const ws of sockets) {
      const s = (ws as unknown as { _socket: Socket })._socket
      s.cork()
      for (const r of b) ws.send(r.frame, { binary: true })
      s.uncork()
    }
  }
  const viaFanout = (b: LogRecord[]): void => fanout.broadcast(b)

  note(
    `${CONSUMERS} consumers in a child process, ${FRAME_BYTES} B frames, ${FRAMES_PER_RUN} frames each per run`,
  )
  for (const round of [1, 2]) {
    if (round === 2) note('second round (warm)')
    await run('baseline: ws.send per frame, batch 1', 1, perFrame)
    await run('baseline: ws.send per frame, batch 32', 32, perFrame)
    await run('baseline: cork + ws.send per frame, batch 32', 32, corked)
    await run('Fanout.broadcast, batch 1', 1, viaFanout)
    await run('Fanout.broadcast, batch 8', 8, viaFanout)
    await run('Fanout.broadcast, batch 32', 32, viaFanout)
  }
  await consumers.close()
  await fanout.close()
}
