// One HTTP GET to a host named by the network (a PDS), over node:http(s) with no connection
// reuse, a DNS lookup the caller may pin (the SSRF guard resolves public addresses first and
// pins the connection to them), and an abort signal over everything. The answer's body is read
// with a size cap, or discarded. Redirects are never followed here.
// Deliberately not here: which addresses are allowed (hosts/address.ts), what the answer means.
import type { IncomingMessage, OutgoingHttpHeaders, RequestOptions } from 'node:http'
import http from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'

/** One answer, whichever transport fetched it. */
export interface HostResponse {
  readonly status: number
  header(name: string): string | null
  /** The body, or null once it passes `maxBytes` (the rest is not read). */
  read(maxBytes: number): Promise<Uint8Array | null>
  discard(): Promise<void>
}

export function getFromHost(
  url: URL,
  headers: OutgoingHttpHeaders,
  signal: AbortSignal,
  lookup: LookupFunction | undefined,
): Promise<HostResponse> {
  const options: RequestOptions = { method: 'GET', headers, signal, agent: false }
  if (lookup !== undefined) options.lookup = lookup
  const request = url.protocol === 'https:' ? https.request : http.request
  return new Promise((resolve, reject) => {
    const req = request(url, options, (res) => resolve(nodeResponse(res)))
    req.on('error', reject)
    req.end()
  })
}

function nodeResponse(res: IncomingMessage): HostResponse {
  return {
    status: res.statusCode ?? 0,
    header(name) {
      const value = res.headers[name.toLowerCase()]
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value
    },
    async read(maxBytes) {
      if (Number(res.headers['content-length'] ?? 0) > maxBytes) {
        res.destroy()
        return null
      }
      const chunks: Buffer[] = []
      let total = 0
      for await (const chunk of res as AsyncIterable<Buffer>) {
        total += chunk.byteLength
        if (total > maxBytes) {
          res.destroy()
          return null
        }
        chunks.push(chunk)
      }
      return Buffer.concat(chunks)
    },
    async discard() {
      res.destroy()
    },
  }
}

/** `promise`, or a rejection with the signal's reason once it aborts (the work is not stopped). */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(err)
      },
    )
  })
}

/** ` (ECONNREFUSED)` for errors carrying a system code, otherwise empty. */
export function errorCode(err: unknown): string {
  const value = (err as { code?: unknown } | null)?.code
  return typeof value === 'string' && /^[A-Z_]+$/.test(value) ? ` (${value})` : ''
}
