// The relay's HTTP server: a small route table for XRPC and admin routes, JSON in and out, the
// relay's `Server` header on every response (docs/design.md §4 item 5), admin authentication
// for admin routes, WebSocket upgrades handed to the caller, and errors mapped in one place
// (errors.ts). Request bodies are bounded (64 KiB); slow, idle and greedy clients are cut off by
// the guard (http-guard.ts).
// Deliberately not here: what the routes do (sync-routes.ts, admin routes) or any SQL.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { SERVER_HEADER } from '../config/config.ts'
import { type GuardedServer, guardedServer, type HttpGuardOptions } from '../net/http-guard.ts'
import { invalidRequest, toXrpcError, XrpcError } from './errors.ts'

const MAX_BODY_BYTES = 64 * 1024
const DEFAULT_STALL_TIMEOUT_MS = 60_000

export interface ApiRequest {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
  readonly body: unknown
  readonly headers: IncomingMessage['headers']
  readonly remoteAddr: string
}

export interface ApiResponse {
  readonly status?: number
  readonly json?: unknown
  readonly text?: string
  readonly redirect?: string
  /** A binary body (set its Content-Type in `headers`). */
  readonly bytes?: Uint8Array
  /** A binary body written as it is produced (a repo export); cut off if producing fails. */
  readonly stream?: AsyncIterable<Uint8Array>
  readonly headers?: Readonly<Record<string, string>>
}

export interface Route {
  readonly method: 'GET' | 'POST'
  readonly path: string
  readonly admin?: boolean
  /** A successful call is repeated to the sibling relays (`--sibling-relays`). */
  readonly forward?: boolean
  handle(req: ApiRequest): Promise<ApiResponse> | ApiResponse
}

/** Who may call admin routes (admin/auth.ts is one). */
export interface AdminGate {
  /** False when no admin key is configured: the admin API is off. */
  readonly enabled: boolean
  /** Whether an `Authorization` header carries a valid admin key. */
  check(authorization: string | undefined): boolean
}

export interface ApiServerOptions {
  readonly routes: readonly Route[]
  readonly adminAuth: AdminGate
  /** WebSocket upgrade requests (subscribeRepos). */
  readonly onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void
  readonly onInternalError: (err: unknown, req: { method: string; path: string }) => void
  /** Unmatched GET requests (static files such as the dashboard); true when it answered. */
  readonly onUnmatched?: (req: IncomingMessage, res: ServerResponse) => boolean
  /** Called after a successful `forward` route, unless the request itself was forwarded. */
  readonly onForward?: (req: ApiRequest, rawQuery: string) => void
  /** Timeouts and the per-client connection cap. */
  readonly guard: Omit<HttpGuardOptions, 'serverHeader'>
}

/** Marks a request forwarded from a sibling relay, so it is not forwarded again (no loops). */
export const FORWARDED_HEADER = 'x-atproto-relay-forwarded'

export function createApiServer(opts: ApiServerOptions): GuardedServer {
  const table = new Map<string, Route>()
  for (const r of opts.routes) table.set(`${r.method} ${r.path}`, r)
  const guarded = guardedServer({ ...opts.guard, serverHeader: SERVER_HEADER }, (req, res) => {
    res.setHeader('Server', SERVER_HEADER)
    void handle(req, res).catch((err: unknown) => {
      opts.onInternalError(err, { method: req.method ?? '', path: req.url ?? '' })
      if (!res.headersSent)
        sendJson(res, 500, { error: 'InternalServerError', message: 'Internal Server Error' })
      else res.destroy()
    })
  })
  guarded.server.on('upgrade', (req, socket, head) => opts.onUpgrade(req, socket, head))

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL
    try {
      url = new URL(req.url ?? '/', 'http://relay.invalid')
    } catch {
      return sendJson(res, 400, { error: 'InvalidRequest', message: 'malformed request target' })
    }
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET')
    const route = table.get(`${method} ${url.pathname}`)
    if (!route && method === 'GET' && opts.onUnmatched?.(req, res)) return
    if (!route) {
      const otherMethod = table.has(`${method === 'GET' ? 'POST' : 'GET'} ${url.pathname}`)
      return otherMethod
        ? sendJson(res, 405, {
            error: 'MethodNotAllowed',
            message: `use ${method === 'GET' ? 'POST' : 'GET'}`,
          })
        : sendJson(res, 404, { error: 'NotFound', message: 'no such route' })
    }
    try {
      if (route.admin) {
        if (!opts.adminAuth.enabled)
          throw new XrpcError(
            401,
            'Unauthorized',
            'the admin API is disabled (no admin key configured)',
          )
        if (!opts.adminAuth.check(req.headers.authorization))
          throw new XrpcError(401, 'Unauthorized', 'missing or wrong admin key')
      }
      const body = method === 'POST' ? await readJson(req) : undefined
      const apiReq: ApiRequest = {
        method,
        path: url.pathname,
        query: url.searchParams,
        body,
        headers: req.headers,
        remoteAddr: req.socket.remoteAddress ?? '',
      }
      const out = await route.handle(apiReq)
      if (route.forward && !req.headers[FORWARDED_HEADER] && (out.status ?? 200) < 300) {
        opts.onForward?.(apiReq, url.search)
      }
      for (const [k, v] of Object.entries(out.headers ?? {})) res.setHeader(k, v)
      if (out.redirect) {
        res.writeHead(out.status ?? 302, { Location: out.redirect })
        res.end()
      } else if (out.bytes !== undefined) {
        res.writeHead(out.status ?? 200, { 'Content-Length': out.bytes.byteLength })
        res.end(out.bytes)
      } else if (out.stream !== undefined) {
        res.writeHead(out.status ?? 200)
        const stallMs = opts.guard.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS
        if ((await writeStream(res, out.stream, stallMs)) === 'stalled') guarded.refuse('timeout')
      } else if (out.text !== undefined) {
        if (!res.hasHeader('Content-Type'))
          res.setHeader('Content-Type', 'text/plain; charset=utf-8')
        res.writeHead(out.status ?? 200)
        res.end(method === 'GET' && req.method === 'HEAD' ? undefined : out.text)
      } else {
        sendJson(res, out.status ?? 200, out.json ?? {})
      }
    } catch (err) {
      const { error, internal } = toXrpcError(err)
      if (internal) opts.onInternalError(err, { method, path: url.pathname })
      sendJson(res, error.status, { error: error.error, message: error.message })
    }
  }
  return guarded
}

/**
 * Writes chunks as they come, waiting when the client reads slowly; a failure cuts the answer,
 * and so does a client that takes nothing for `stallMs` (what produces the chunks is stopped:
 * leaving the loop ends the iterator).
 */
async function writeStream(
  res: ServerResponse,
  chunks: AsyncIterable<Uint8Array>,
  stallMs: number,
): Promise<'done' | 'stalled' | 'cut'> {
  try {
    for await (const chunk of chunks) {
      if (res.destroyed) return 'cut'
      if (!res.write(chunk)) {
        const drained = await new Promise<boolean>((resolve) => {
          const done = (ok: boolean) => () => {
            clearTimeout(timer)
            res.off('drain', onDrain)
            res.off('close', onClose)
            resolve(ok)
          }
          const onDrain = done(true)
          const onClose = done(true)
          const timer = setTimeout(done(false), stallMs)
          res.once('drain', onDrain)
          res.once('close', onClose)
        })
        if (!drained) {
          res.destroy()
          return 'stalled'
        }
      }
    }
    res.end()
    return 'done'
  } catch (err) {
    // The status line is out: the only honest signal left is a cut connection.
    res.destroy(err instanceof Error ? err : new Error(String(err)))
    return 'cut'
  }
}

function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value)
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  })
  res.end(body)
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES)
      throw new XrpcError(413, 'PayloadTooLarge', `request body over ${MAX_BODY_BYTES} bytes`)
    chunks.push(chunk as Buffer)
  }
  if (size === 0) return undefined
  const type = req.headers['content-type'] ?? ''
  if (!type.includes('json'))
    throw invalidRequest('request body must be JSON (Content-Type: application/json)')
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown
  } catch {
    throw invalidRequest('request body is not valid JSON')
  }
}
