// Closing consumer sockets with a bound: optionally one last frame (an error frame), then the
// WebSocket close handshake, then a hard terminate if the peer has not completed the handshake
// within the grace period (a consumer that stopped reading would otherwise hold its full send
// buffer until `ws`'s own 30 s close timer). Tracks every socket it is closing so shutdown can
// wait for them. Deliberately not here: deciding why or when to close.
import type { WebSocket } from 'ws'
import { overBudget, totalBuffered } from './buffer-budget.ts'
import { sendFrame } from './wire.ts'

const ignore = (): void => {}

export class SocketCloser {
  readonly #graceMs: number
  readonly #closing = new Map<WebSocket, Promise<void>>()
  /** Sockets already terminated (their 'close' may come a tick later). */
  readonly #terminated = new WeakSet<WebSocket>()

  constructor(graceMs: number) {
    this.#graceMs = graceMs
  }

  /** Sockets whose close has begun but not finished. */
  get size(): number {
    return this.#closing.size
  }

  /** Bytes still waiting in the send buffers of sockets being closed (terminated ones not counted). */
  get buffered(): number {
    let total = 0
    for (const ws of this.#closing.keys()) if (!this.#terminated.has(ws)) total += ws.bufferedAmount
    return total
  }

  /**
   * Terminates sockets being closed that still hold unsent bytes, largest first, until at least
   * `bytes` are given back (a peer that stopped reading will never take them; a small buffer is
   * likely just the last error frame, which is left to go out). Returns what it terminated.
   */
  shed(bytes: number): { sockets: number; bytes: number } {
    const holding = [...this.#closing.keys()]
      .filter((ws) => !this.#terminated.has(ws))
      .map((ws) => ({ ws, buffered: ws.bufferedAmount }))
    const held = totalBuffered(holding)
    const cut = overBudget(holding, held, held - bytes)
    for (const { ws } of cut) this.#kill(ws)
    return { sockets: cut.length, bytes: totalBuffered(cut) }
  }

  /** Sends `lastFrame` (if any), closes with `code`, terminates after the grace period. */
  close(ws: WebSocket, code: number, lastFrame?: Uint8Array): void {
    if (!this.#track(ws)) return
    if (ws.readyState === ws.OPEN) {
      if (lastFrame !== undefined) sendFrame(ws, lastFrame)
      ws.close(code)
    } else {
      this.#kill(ws)
    }
  }

  /** Closes at once, without a handshake (a peer that stopped answering pings). */
  terminate(ws: WebSocket): void {
    this.#track(ws)
    this.#kill(ws)
  }

  #track(ws: WebSocket): boolean {
    if (this.#closing.has(ws) || ws.readyState === ws.CLOSED) return false
    ws.on('error', ignore)
    const closed = new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.#kill(ws), this.#graceMs)
      timer.unref()
      ws.once('close', () => {
        clearTimeout(timer)
        this.#closing.delete(ws)
        resolve()
      })
    })
    this.#closing.set(ws, closed)
    return true
  }

  /** Terminates at once; its bytes no longer count as held (its 'close' may come a tick later). */
  #kill(ws: WebSocket): void {
    this.#terminated.add(ws)
    ws.terminate()
  }

  /** Resolves when every socket being closed has closed (each is bounded by the grace period). */
  async settled(): Promise<void> {
    while (this.#closing.size > 0) await Promise.all(this.#closing.values())
  }

  /** Terminates every socket still closing. */
  terminateAll(): void {
    for (const ws of this.#closing.keys()) this.#kill(ws)
  }
}
