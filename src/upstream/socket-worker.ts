// A socket thread: runs upstream WebSockets for the main thread (socket-threads.ts). Each line is
// an UpstreamSocket dialled here, with the address guard built here from the same rule the main
// thread uses; each frame is classified here (frame-outcome.ts: the strict CBOR scan and the
// envelope) and handed over with its outcome. Events go back in order, batched once per turn of
// this thread's event loop, frames' bytes transferred, not copied.
// Back-pressure: frames posted and not yet acknowledged by the main thread are bounded by
// MAX_UNACKED_BYTES. Past it every socket here is held (not read: TCP then slows the hosts
// down) until the main thread has taken half of them. A hold is not a pause: the main thread's
// pause (its host's flow control) stays as it was, and so do the liveness rules.
// Deliberately not here: seqs, reconnecting, what an event means (the main thread's connection).
import { parentPort, workerData } from 'node:worker_threads'
import { upstreamLookup } from '../hosts/address.ts'
import {
  type EnvelopeFrame,
  type FromSocketThread,
  isEnvelopeFrame,
  type LineEvent,
  MAX_UNACKED_BYTES,
  packFrame,
  type SocketThreadData,
  type ToSocketThread,
} from './socket-messages.ts'
import { type HeldLine, LocalSockets } from './socket-opener.ts'

if (parentPort === null) throw new Error('socket-worker.ts runs as a worker thread')
const port = parentPort

const data = workerData as SocketThreadData
const sockets = new LocalSockets(upstreamLookup(data.allowInsecure))

const lines = new Map<number, HeldLine>()

let outbox: (LineEvent | EnvelopeFrame)[] = []
let transfer: ArrayBuffer[] = []
let flush: NodeJS.Immediate | null = null
let unacked = 0
let stalled = false
let stalls = 0

function post(ev: LineEvent | EnvelopeFrame): void {
  outbox.push(ev)
  if (flush === null) flush = setImmediate(send)
}

function send(): void {
  flush = null
  const events = outbox
  const buffers = transfer
  outbox = []
  transfer = []
  port.postMessage({ events, stalls, waitingBytes: unacked } satisfies FromSocketThread, buffers)
}

function setStalled(on: boolean): void {
  stalled = on
  if (on) stalls++
  for (const line of lines.values()) line.setHeld(stalled)
}

function open(id: number, msg: Extract<ToSocketThread, { op: 'open' }>): void {
  try {
    const line = sockets.open(msg.dial, {
      refused: (reason) => post({ id, e: 'refused', reason }),
      open: () => post({ id, e: 'open' }),
      received: (n) => post({ id, e: 'received', n }),
      frame: (raw, outcome) => {
        // The socket reports `received` just before the frame it read: one event for both.
        const last = outbox[outbox.length - 1]
        const merged =
          last !== undefined &&
          !isEnvelopeFrame(last) &&
          last.id === id &&
          last.e === 'received' &&
          last.n === raw.byteLength
        if (merged) outbox.pop()
        post(packFrame({ id, e: 'frame', raw, outcome, received: merged }))
        transfer.push(raw.buffer as ArrayBuffer)
        unacked += raw.byteLength
        if (!stalled && unacked > MAX_UNACKED_BYTES) setStalled(true)
      },
      tooLarge: (detail) => post({ id, e: 'tooLarge', detail }),
      closed: (end) => {
        lines.delete(id)
        post({ id, e: 'closed', end })
      },
    })
    lines.set(id, line)
    if (stalled) line.setHeld(true)
  } catch (err) {
    // The main thread checked the URL; anything else that stops a dial ends the line at once.
    const error = `cannot dial ${msg.dial.url}: ${err instanceof Error ? err.message : String(err)}`
    post({ id, e: 'closed', end: { code: 1006, reason: '', why: null, error } })
  }
}

port.on('message', (msg: ToSocketThread) => {
  if (msg.op === 'open') {
    open(msg.id, msg)
    return
  }
  if (msg.op === 'ack') {
    unacked -= msg.bytes
    if (stalled && unacked <= MAX_UNACKED_BYTES / 2) setStalled(false)
    return
  }
  const line = lines.get(msg.id)
  if (line === undefined) return // already closed; its `closed` is on its way
  if (msg.op === 'pause') line.setPaused(msg.paused)
  else if (msg.op === 'fail') line.fail(msg.error)
  else line.close(msg.why)
})
