// The load generator's consumers, in their own thread: live subscriptions to the relay that
// check seq continuity and measure, for every commit sent inside the measured window, the time
// from its PDS send (shared `sendTimes`) to its arrival here. Frames are scanned, not decoded
// (frame-scan.ts).
//
// Messages in: {report}. Out: {connected} once every consumer is open, then {report: ...}.
import { parentPort, workerData } from 'node:worker_threads'
import WebSocket from 'ws'
import { nowMs } from './clock.ts'
import { eventIndex, scanFrame } from './frame-scan.ts'

export interface ConsumersTask {
  readonly url: string
  readonly consumers: number
  readonly baseMicros: number
  readonly events: number
  readonly sendTimes: SharedArrayBuffer
  /** Float64Array of 2: the measured window's start and end (monotonic ms; 0: not yet). */
  readonly window: SharedArrayBuffer
}

export interface ConsumerReport {
  /** Frames received: all, those that arrived during the measured window, and the commits sent
   * in the window (whenever they arrived: their latencies are the ones measured). */
  readonly received: number
  readonly arrivedInWindow: number
  readonly receivedInWindow: number
  readonly gaps: number
  readonly duplicates: number
  /** Distinct workload commits received (each at most once). */
  readonly commitsSeen: number
  readonly unreadable: number
  readonly errorFrames: number
  readonly lastSeq: number
  readonly closed: boolean
}

export type ConsumersOut =
  | { readonly connected: true }
  | {
      readonly report: readonly ConsumerReport[]
      /** Latencies (ms) of the window's commits, all consumers together. */
      readonly latencies: Float64Array
    }

const task = workerData as ConsumersTask
const port = parentPort!
const post = (m: ConsumersOut, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer ?? [])
const sendTimes = new Float64Array(task.sendTimes)
const window = new Float64Array(task.window)

let latencies = new Float64Array(1 << 20)
let nLatencies = 0
function note(ms: number): void {
  if (nLatencies === latencies.length) {
    const bigger = new Float64Array(latencies.length * 2)
    bigger.set(latencies)
    latencies = bigger
  }
  latencies[nLatencies++] = ms
}

class LoadConsumer {
  received = 0
  arrivedInWindow = 0
  receivedInWindow = 0
  gaps = 0
  duplicates = 0
  unreadable = 0
  errorFrames = 0
  lastSeq = 0
  closed = false
  commitsSeen = 0
  readonly #seen = new Uint8Array(task.events)
  readonly opened: Promise<void>

  constructor(url: string) {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 16 << 20 })
    this.opened = new Promise((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    ws.on('error', () => {})
    ws.on('close', () => {
      this.closed = true
    })
    ws.on('message', (data: Buffer) => this.#frame(data))
  }

  #frame(data: Buffer): void {
    const at = nowMs()
    this.received++
    if (window[0] !== 0 && at >= window[0]! && (window[1] === 0 || at < window[1]!))
      this.arrivedInWindow++
    const f = scanFrame(data)
    if (f === null) {
      this.unreadable++
      return
    }
    if (f.op !== 1) {
      this.errorFrames++
      return
    }
    if (f.seq !== undefined) {
      if (this.lastSeq !== 0 && f.seq > this.lastSeq + 1) this.gaps++
      if (f.seq <= this.lastSeq) this.duplicates++
      else this.lastSeq = f.seq
    }
    if (f.type !== '#commit' || f.revMicros === undefined) return
    const i = eventIndex(f.revMicros, task.baseMicros)
    if (i < 0 || i >= task.events) return
    if (this.#seen[i] === 0) {
      this.#seen[i] = 1
      this.commitsSeen++
    }
    const sentAt = sendTimes[i]!
    const from = window[0]!
    const to = window[1]!
    if (from === 0 || sentAt < from || (to !== 0 && sentAt >= to)) return
    this.receivedInWindow++
    note(at - sentAt)
  }

  report(): ConsumerReport {
    const { received, arrivedInWindow, receivedInWindow, gaps, duplicates } = this
    const { unreadable, errorFrames } = this
    return {
      received,
      arrivedInWindow,
      receivedInWindow,
      gaps,
      duplicates,
      commitsSeen: this.commitsSeen,
      unreadable,
      errorFrames,
      lastSeq: this.lastSeq,
      closed: this.closed,
    }
  }
}

const consumers = Array.from({ length: task.consumers }, () => new LoadConsumer(task.url))
await Promise.all(consumers.map((c) => c.opened))
post({ connected: true })

port.on('message', () => {
  const out = latencies.slice(0, nLatencies)
  post({ report: consumers.map((c) => c.report()), latencies: out }, [out.buffer])
})
