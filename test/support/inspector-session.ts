// A Chrome DevTools Protocol session with a relay process started with `--inspect` on a
// loopback port: the soak's and the load generator's memory probes force collections through it,
// and the end-to-end tests end one of the relay's worker threads as a crash would.
import WebSocket from 'ws'

/** The Node flag that makes the relay listen for an inspector on a loopback port of its choice. */
export const INSPECT_FLAG = '--inspect=127.0.0.1:0'

/**
 * The inspector's WebSocket address, from the line Node writes to stderr when it starts
 * listening (the port is the one the relay chose: no port is picked beforehand and raced for).
 */
export function debuggerUrlIn(lines: readonly string[]): string | undefined {
  for (const line of lines) {
    const m = /^Debugger listening on (ws:\/\/127\.0\.0\.1:\d+\/\S+)/.exec(line)
    if (m) return m[1]
  }
  return undefined
}

/** A Chrome DevTools Protocol session over the inspector's WebSocket: calls and events. */
export class InspectorSession {
  readonly #ws: WebSocket
  #next = 1
  readonly #calls = new Map<
    number,
    (msg: { result?: unknown; error?: { message: string } }) => void
  >()
  readonly #listeners = new Map<string, (params: Record<string, unknown>) => void>()

  private constructor(ws: WebSocket) {
    this.#ws = ws
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as {
        id?: number
        method?: string
        params?: Record<string, unknown>
        result?: unknown
        error?: { message: string }
      }
      if (msg.id !== undefined) this.#calls.get(msg.id)?.(msg)
      else if (msg.method) this.#listeners.get(msg.method)?.(msg.params ?? {})
    })
  }

  static async open(url: string): Promise<InspectorSession> {
    const ws = new WebSocket(url, { handshakeTimeout: 5_000 })
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    return new InspectorSession(ws)
  }

  /** Resolves with the call's result; rejects on an error answer or after 30 s. */
  call(method: string, params?: Record<string, unknown>): Promise<unknown> {
    const id = this.#next++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#calls.delete(id)
        reject(new Error(`${method}: no answer in 30 s`))
      }, 30_000)
      this.#calls.set(id, (msg) => {
        clearTimeout(timer)
        this.#calls.delete(id)
        if (msg.error) reject(new Error(`${method}: ${msg.error.message}`))
        else resolve(msg.result)
      })
      this.#ws.send(JSON.stringify({ id, method, params }))
    })
  }

  on(event: string, listener: (params: Record<string, unknown>) => void): void {
    this.#listeners.set(event, listener)
  }

  close(): void {
    this.#ws.close()
  }
}

/**
 * Ends one of the relay's worker threads as an uncaught exception would: the thread whose script
 * path ends with `script` (e.g. `host-worker.ts`), the first if there are several. Throws when
 * none runs.
 */
export async function crashWorkerThread(debuggerUrl: string, script: string): Promise<void> {
  const session = await InspectorSession.open(debuggerUrl)
  try {
    const workers: { sessionId: string; url: string }[] = []
    session.on('NodeWorker.attachedToWorker', (p) => {
      const info = p.workerInfo as { url?: string } | undefined
      workers.push({ sessionId: String(p.sessionId), url: String(info?.url ?? '') })
    })
    await session.call('NodeWorker.enable', { waitForDebuggerOnStart: false })
    // The workers already running are announced right after `enable` answers.
    await new Promise((r) => setTimeout(r, 200))
    const target = workers.find((w) => w.url.endsWith(script))
    if (!target) {
      throw new Error(`no worker thread runs ${script}: ${workers.map((w) => w.url).join(', ')}`)
    }
    const expression = "setTimeout(() => { throw new Error('crashed by the test') })"
    const message = JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression } })
    await session.call('NodeWorker.sendMessageToWorker', { sessionId: target.sessionId, message })
  } finally {
    session.close()
  }
}
