// `npm run replay -- --url ws://127.0.0.1:2470`: how fast a relay replays its log from disk to
// one consumer. Subscribes from a cursor (0: the start of the relay's window) over a plain TCP
// socket, does the WebSocket handshake itself and then only walks the frames' headers, counting
// messages and bytes without unmasking, copying or decoding anything: a `ws` client that scans
// each frame tops out near 100,000 events/s of the load generator's commits on this box, as fast
// as either relay sends, so it would measure itself. Reads until nothing has come for
// --idle-seconds and times the replay to its last byte. Works against any relay that speaks
// subscribeRepos (ours, or Bluesky's Go relay after a load generator run: BENCHMARKS.md). Prints
// one JSON line, with the relay's CPU over the replay when --relay-pid is given. It answers the
// relay's pings, so a long replay is not cut off. Seq continuity is the load generator's check,
// not this one's.
import { randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { parseArgs } from 'node:util'
import { frameHeaderAt } from '../src/fanout/wire.ts'
import { cpuSnapshot } from './loadgen/proc.ts'

const { values } = parseArgs({
  options: {
    url: { type: 'string', default: 'ws://127.0.0.1:2470' },
    cursor: { type: 'string', default: '0' },
    'idle-seconds': { type: 'string', default: '2' },
    'relay-pid': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
})
if (values.help) {
  console.log(`npm run replay -- [options]
  --url URL             the relay's base, ws:// or http:// (default ws://127.0.0.1:2470)
  --cursor N            replay from this seq (default 0: the start of the relay's window)
  --idle-seconds N      the replay has ended after N seconds without a byte (default 2)
  --relay-pid PID       the relay's process, for its CPU over the replay`)
  process.exit(0)
}

const url = new URL(values.url.replace(/^http/, 'ws'))
const cursor = Number(values.cursor)
if (!Number.isSafeInteger(cursor) || cursor < 0) {
  console.error(`--cursor must be a seq (a whole number from 0), got ${values.cursor}`)
  process.exit(2)
}
const path = `/xrpc/com.atproto.sync.subscribeRepos?cursor=${cursor}`
const idleMs = Number(values['idle-seconds']) * 1000
const pid = values['relay-pid'] === undefined ? undefined : Number(values['relay-pid'])

interface Replayed {
  readonly messages: number
  readonly bytes: number
  readonly seconds: number
  readonly closedByRelay: boolean
}

/**
 * Counts WebSocket messages in a byte stream by their frame headers (RFC 6455 §5.2), and hands
 * each ping's payload to `onPing` (a relay cuts a consumer that does not answer its pings).
 */
class FrameCounter {
  messages = 0
  payloadBytes = 0
  #pending: Buffer | null = null // a header (or a whole ping) split across two chunks
  #skip = 0 // payload bytes of the current frame still to come
  readonly #onPing: (payload: Buffer) => void

  constructor(onPing: (payload: Buffer) => void) {
    this.#onPing = onPing
  }

  push(chunk: Buffer): void {
    let b = chunk
    if (this.#pending !== null) {
      b = Buffer.concat([this.#pending, chunk])
      this.#pending = null
    }
    let o = 0
    while (o < b.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, b.length - o)
        this.#skip -= n
        o += n
        continue
      }
      const header = frameHeaderAt(b, o)
      if (header === null) break
      const { head, payload: len } = header
      const fin = (b[o]! & 0x80) !== 0
      const opcode = b[o]! & 0x0f
      if (opcode === 9) {
        // A ping (at most 125 bytes, never split into frames): wait until all of it is here.
        if (b.length - o < head + len) break
        this.#onPing(Buffer.from(b.subarray(o + head, o + head + len)))
      }
      // Data frames (binary, text, continuation) make messages; control frames do not count.
      if (opcode < 8) {
        this.payloadBytes += len
        if (fin) this.messages++
      }
      o += head
      this.#skip = len
    }
    if (o < b.length) this.#pending = b.subarray(o)
  }
}

function replay(): Promise<Replayed> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port || 80), url.hostname)
    // A client's frames are masked (RFC 6455 §5.3): the pong echoes the ping's payload.
    const counter = new FrameCounter((payload) => {
      const mask = randomBytes(4)
      const pong = Buffer.alloc(6 + payload.length)
      pong[0] = 0x8a
      pong[1] = 0x80 | payload.length
      mask.copy(pong, 2)
      for (let i = 0; i < payload.length; i++) pong[6 + i] = payload[i]! ^ mask[i & 3]!
      socket.write(pong)
    })
    let upgraded = false
    let head = Buffer.alloc(0)
    let started = 0
    let lastAt = 0
    let done = false
    const finish = (closedByRelay: boolean) => {
      if (done) return
      done = true
      clearInterval(idle)
      socket.destroy()
      const seconds = upgraded && lastAt > started ? (lastAt - started) / 1000 : 0
      resolve({ messages: counter.messages, bytes: counter.payloadBytes, seconds, closedByRelay })
    }
    const idle = setInterval(() => {
      if (started !== 0 && performance.now() - (lastAt || started) > idleMs) finish(false)
    }, 100)
    socket.on('connect', () => {
      const key = randomBytes(16).toString('base64')
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      )
      started = performance.now()
    })
    socket.on('data', (chunk: Buffer) => {
      lastAt = performance.now()
      if (upgraded) return counter.push(chunk)
      head = Buffer.concat([head, chunk])
      const end = head.indexOf('\r\n\r\n')
      if (end < 0) return
      const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1')
      if (!/^HTTP\/1\.1 101 /.test(status)) {
        done = true
        clearInterval(idle)
        socket.destroy()
        return reject(new Error(`no WebSocket upgrade: ${status}`))
      }
      upgraded = true
      if (end + 4 < head.length) counter.push(head.subarray(end + 4))
    })
    socket.on('error', (err) => (done ? undefined : reject(err)))
    socket.on('close', () => finish(true))
  })
}

const cpuBefore = pid === undefined ? undefined : (await cpuSnapshot(pid)).total
const r = await replay()
const cpuAfter = pid === undefined ? undefined : (await cpuSnapshot(pid)).total
const per = (n: number) => (r.seconds > 0 ? Math.round(n / r.seconds) : null)
console.log(
  JSON.stringify({
    date: new Date().toISOString(),
    url: url.origin,
    cursor,
    ...r,
    eventsPerSec: per(r.messages),
    mbPerSec: r.seconds > 0 ? Math.round(r.bytes / 1e6 / r.seconds) : null,
    // CPU from the request to the idle end: the replay's and the idle wait's (nothing).
    relayCpuSeconds:
      cpuBefore === undefined || cpuAfter === undefined
        ? undefined
        : Math.round((cpuAfter - cpuBefore) * 1000) / 1000,
  }),
)
