// WebSocket framing done once per batch: the frames of one broadcast (or one replay chunk) are
// wrapped in unmasked binary WebSocket headers and laid out back to back in a single buffer,
// and that one buffer is written to every live consumer's socket with one write each. Every
// consumer gets the very same bytes (no per-consumer encoding or copying), and a batch costs one
// write per socket instead of one per frame, which is what makes fan-out fast (BENCHMARKS.md:
// "Library measurements" and the fan-out figures; fanout.bench.ts).
// Writing beside `ws` is only safe while its sender has nothing queued (it queues only while
// compressing or reading a Blob, which fanout never asks for) and only on the server side
// (client frames are masked); otherwise, or when the socket is not reachable, the frames go
// through `ws.send` one by one, same messages on the wire.
// Deliberately not here: deciding who gets a batch or when a consumer is too slow.
import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'

/** Frames ready to write: `bytes` holds each frame with its WebSocket header, back to back. */
export interface WireBatch {
  readonly bytes: Buffer
  /** How many frames `bytes` holds. */
  readonly count: number
  /** Sum of the frames' lengths (without WebSocket headers). */
  readonly payloadBytes: number
}

const FIN_BINARY = 0x82

function headerLength(len: number): number {
  return len < 126 ? 2 : len < 0x10000 ? 4 : 10
}

/** A WebSocket frame's header as read back (RFC 6455 §5.2): its own length and its payload's. */
export interface FrameHeader {
  /** Bytes of the header: 2, 4 or 10, and 4 more for a masking key. */
  readonly head: number
  readonly payload: number
}

const uint32At = (b: Uint8Array, o: number): number =>
  ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0

/** The header of the frame at `o`, or null when `b` ends inside it. */
export function frameHeaderAt(b: Uint8Array, o: number): FrameHeader | null {
  if (b.length - o < 2) return null
  const short = b[o + 1]! & 0x7f
  const head = (short === 126 ? 4 : short === 127 ? 10 : 2) + (b[o + 1]! & 0x80 ? 4 : 0)
  if (b.length - o < head) return null
  const payload =
    short === 126
      ? (b[o + 2]! << 8) | b[o + 3]!
      : short === 127
        ? uint32At(b, o + 2) * 0x1_0000_0000 + uint32At(b, o + 6)
        : short
  return { head, payload }
}

/** Bytes the wire form of `frames` takes (frames and their headers). */
export function wireLength(frames: readonly Uint8Array[]): number {
  let total = 0
  for (const f of frames) total += headerLength(f.length) + f.length
  return total
}

/**
 * Builds the wire form of `frames`, copying them once: into `into` when given (a buffer the
 * caller reuses, at least `wireLength(frames)` long), else into a new buffer. The batch keeps no
 * reference to `frames`, so their memory may be reused as soon as this returns.
 */
export function buildWireBatch(frames: readonly Uint8Array[], into?: Buffer): WireBatch {
  let payloadBytes = 0
  for (const f of frames) payloadBytes += f.length
  const total = wireLength(frames)
  if (into !== undefined && into.length < total)
    throw new RangeError(`wire buffer of ${into.length} bytes for a batch of ${total}`)
  const bytes = into === undefined ? Buffer.allocUnsafe(total) : into.subarray(0, total)
  let o = 0
  for (const f of frames) {
    const len = f.length
    bytes[o++] = FIN_BINARY
    if (len < 126) {
      bytes[o++] = len
    } else if (len < 0x10000) {
      bytes[o++] = 126
      bytes.writeUInt16BE(len, o)
      o += 2
    } else {
      bytes[o++] = 127
      bytes.writeUInt32BE(Math.floor(len / 0x1_0000_0000), o)
      bytes.writeUInt32BE(len >>> 0, o + 4)
      o += 8
    }
    bytes.set(f, o)
    o += len
  }
  return { bytes, count: frames.length, payloadBytes }
}

interface WsInternals {
  readonly _isServer?: boolean
  readonly _socket?: Socket | null
  readonly _sender?: { readonly _state?: unknown; readonly _queue?: readonly unknown[] } | null
}

/** The socket under `ws` when writing to it directly keeps frame order; otherwise null. */
function directSocket(ws: WebSocket): Socket | null {
  const internals = ws as unknown as WsInternals
  const socket = internals._socket
  const sender = internals._sender
  // Client-side frames must be masked: only a server's socket is written to directly.
  if (internals._isServer !== true || !socket || !sender) return null
  if (sender._state !== 0 || sender._queue?.length !== 0) return null
  if (socket.destroyed) return null
  return socket
}

const SEND_OPTIONS = { binary: true, compress: false } as const

/**
 * Writes a batch to one consumer's socket. The caller has checked the socket is open.
 * `onWritten` is called once the batch's bytes are no longer needed (handed to the kernel, or the
 * write failed), so a caller may reuse the buffer behind them.
 */
export function writeBatch(ws: WebSocket, batch: WireBatch, onWritten?: () => void): void {
  const socket = directSocket(ws)
  if (socket !== null) {
    socket.write(batch.bytes, onWritten)
    return
  }
  // Through `ws`, frame by frame: each frame is the payload after its header in `bytes`.
  const b = batch.bytes
  let o = 0
  for (let i = 0; i < batch.count; i++) {
    const { head, payload } = frameHeaderAt(b, o)! // built whole by buildWireBatch
    const last = i === batch.count - 1
    ws.send(b.subarray(o + head, o + head + payload), SEND_OPTIONS, last ? onWritten : undefined)
    o += head + payload
  }
  if (batch.count === 0 && onWritten !== undefined) queueMicrotask(onWritten)
}

/** Sends one frame through `ws` itself (error and `#info` frames: rare, not batched). */
export function sendFrame(ws: WebSocket, frame: Uint8Array): void {
  ws.send(frame, SEND_OPTIONS)
}

const POLL_MS = 10

/**
 * Resolves when the socket's send buffer has drained, the socket has closed, or (when the socket
 * gives no drain event to wait for) after a short pause; callers re-check their condition.
 */
export function whenWritable(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    const socket = (ws as unknown as WsInternals)._socket
    let timer: NodeJS.Timeout | undefined
    const done = (): void => {
      ws.off('close', done)
      socket?.off('drain', done)
      socket?.off('close', done)
      if (timer !== undefined) clearTimeout(timer)
      resolve()
    }
    ws.once('close', done)
    if (socket && !socket.destroyed && socket.writableNeedDrain) {
      socket.once('drain', done)
      socket.once('close', done)
    } else {
      timer = setTimeout(done, POLL_MS)
    }
  })
}
