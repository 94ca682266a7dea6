// A socket thread: runs upstream WebSockets for the main thread (socket-threads.ts). Each line is
// an UpstreamSocket dialled here, with the address guard built here from the same rule the main
// thread uses; each frame is classified here (frame-outcome.ts: the strict CBOR scan and the
// envelope) and handed over with its outcome. Events go back in order, batched once per turn of
// this thread's event loop, frames' bytes transferred, not copied.
// Deliberately not here: seqs, reconnecting, what an event means (the main thread's connection).
import { parentPort, workerData } from 'node:worker_threads'
import { upstreamLookup } from '../hosts/address.ts'
import type { LineEvent, SocketThreadData, ToSocketThread } from './socket-messages.ts'
import { LocalSockets, type UpstreamLine } from './socket-opener.ts'

const port = parentPort
if (port === null) throw new Error('socket-worker.ts runs as a worker thread')

const data = workerData as SocketThreadData
const sockets = new LocalSockets(upstreamLookup(data.allowInsecure))
const lines = new Map<number, UpstreamLine>()

let outbox: LineEvent[] = []
let transfer: ArrayBuffer[] = []
let flush: NodeJS.Immediate | null = null

function post(ev: LineEvent): void {
  outbox.push(ev)
  if (flush === null) flush = setImmediate(send)
}

function send(): void {
  flush = null
  const events = outbox
  const buffers = transfer
  outbox = []
  transfer = []
  port?.postMessage({ events }, buffers)
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
        const merged = last?.id === id && last.e === 'received' && last.n === raw.byteLength
        if (merged) outbox.pop()
        post({ id, e: 'frame', raw, outcome, received: merged })
        transfer.push(raw.buffer as ArrayBuffer)
      },
      tooLarge: (detail) => post({ id, e: 'tooLarge', detail }),
      closed: (end) => {
        lines.delete(id)
        post({ id, e: 'closed', end })
      },
    })
    lines.set(id, line)
  } catch (err) {
    // The main thread checked the URL; anything else that stops a dial ends the line at once.
    const error = `cannot dial ${msg.dial.url}: ${err instanceof Error ? err.message : String(err)}`
    post({ id, e: 'closed', end: { code: 1006, reason: '', why: null, error, openedAt: null } })
  }
}

port.on('message', (msg: ToSocketThread) => {
  if (msg.op === 'open') {
    open(msg.id, msg)
    return
  }
  const line = lines.get(msg.id)
  if (line === undefined) return // already closed; its `closed` is on its way
  if (msg.op === 'pause') line.setPaused(msg.paused)
  else if (msg.op === 'fail') line.fail(msg.error)
  else line.close(msg.why)
})
