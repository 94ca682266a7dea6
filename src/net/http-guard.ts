// Guards an HTTP server against slow, idle and greedy clients: a client must send its headers
// within `headersTimeoutMs` and its whole request (body included) within `requestTimeoutMs`, an
// idle keep-alive connection is closed after `keepAliveTimeoutMs`, and one client address may hold
// at most `maxConnectionsPerAddr` HTTP connections at once. Without this, a client sending a byte
// at a time holds a socket for as long as it likes, and a few hundred of them hold the server.
// Who the client is: the socket's peer. Connections from a trusted proxy carry many clients, so
// they are not capped as connections; instead each forwarded client (`X-Forwarded-For`, through
// the same rule consumers use) may have at most that many requests in flight.
// WebSocket upgrades stop counting as HTTP connections once upgraded: firehose consumers have
// limits of their own (fan-out), and these timeouts end with the upgrade.
// Every refusal is answered (408, 429 or 400, `Connection: close`) and counted by reason.
// Deliberately not here: routing and what requests do (api/server.ts), consumer limits (fanout/).
import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'

/** Why the guard refused or ended a connection or request. */
export const HTTP_REFUSALS = ['per-address-limit', 'timeout', 'bad-request'] as const
export type HttpRefusal = (typeof HTTP_REFUSALS)[number]

export interface HttpGuardOptions {
  /** The `Server` header of the guard's own answers. */
  readonly serverHeader: string
  /** HTTP connections (or, behind a trusted proxy, requests in flight) per client; 0: no cap. */
  readonly maxConnectionsPerAddr: number
  /** Default 10 s. */
  readonly headersTimeoutMs?: number
  /** Default 30 s. */
  readonly requestTimeoutMs?: number
  /** Default 5 s. */
  readonly keepAliveTimeoutMs?: number
  /**
   * A streamed answer (a repo export) whose client stops reading is cut after this long without
   * progress, so a stalled download never holds what produces it (default 60 s; the handler
   * applies it and reports it with `refuse('timeout')`).
   */
  readonly stallTimeoutMs?: number
  /** Whether a peer is a trusted proxy (default: none is). */
  readonly isTrustedProxy?: (peer: string) => boolean
  /** The client behind a trusted proxy (default: the peer). */
  readonly clientAddress?: (peer: string, forwardedFor: string | string[] | undefined) => string
}

export interface HttpGuardStats {
  /** HTTP connections open now (upgraded ones excluded). */
  readonly open: number
  readonly refused: Readonly<Record<HttpRefusal, number>>
}

export interface GuardedServer {
  readonly server: Server
  stats(): HttpGuardStats
  /** Counts a connection the handler cut for one of the guard's reasons. */
  refuse(reason: HttpRefusal): void
}

const DEFAULT_HEADERS_TIMEOUT_MS = 10_000
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 5_000

/** A node:http server running `handler` behind the guard. */
export function guardedServer(opts: HttpGuardOptions, handler: RequestListener): GuardedServer {
  const headersTimeout = opts.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS
  const requestTimeout = Math.max(
    opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    headersTimeout,
  )
  const cap = opts.maxConnectionsPerAddr
  const isProxy = opts.isTrustedProxy ?? (() => false)
  const clientOf = opts.clientAddress ?? ((peer: string) => peer)
  const refused: Record<HttpRefusal, number> = {
    'per-address-limit': 0,
    timeout: 0,
    'bad-request': 0,
  }
  const perAddr = new Map<string, number>()
  const counted = new WeakSet<Duplex>()
  let open = 0

  const add = (key: string, delta: number): number => {
    const n = (perAddr.get(key) ?? 0) + delta
    if (n <= 0) perAddr.delete(key)
    else perAddr.set(key, n)
    return n
  }
  const uncount = (socket: Duplex): void => {
    if (!counted.delete(socket)) return
    open--
    add((socket as { remoteAddress?: string }).remoteAddress ?? '', -1)
  }

  const server = createServer(
    {
      headersTimeout,
      requestTimeout,
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS,
      // How often Node looks for requests past their timeouts (its default is 30 s).
      connectionsCheckingInterval: Math.max(100, Math.min(1000, headersTimeout / 4)),
    },
    (req: IncomingMessage, res: ServerResponse) => {
      const peer = req.socket.remoteAddress ?? ''
      if (cap > 0 && isProxy(peer)) {
        const client = `fwd ${clientOf(peer, req.headers['x-forwarded-for'])}`
        if (add(client, 1) > cap) {
          add(client, -1)
          refused['per-address-limit']++
          res.writeHead(429, {
            Server: opts.serverHeader,
            'Content-Type': 'application/json',
            Connection: 'close',
          })
          res.end(tooMany(cap))
          return
        }
        res.once('close', () => add(client, -1))
      }
      handler(req, res)
    },
  )
  server.on('connection', (socket) => {
    const peer = socket.remoteAddress ?? ''
    if (cap === 0 || isProxy(peer)) return
    if (add(peer, 1) > cap) {
      add(peer, -1)
      refused['per-address-limit']++
      answerAndClose(socket, opts.serverHeader, 429, 'Too Many Requests', tooMany(cap))
      return
    }
    open++
    counted.add(socket)
    socket.once('close', () => uncount(socket))
  })
  // Runs before the upgrade handler: from here on the socket belongs to fan-out's limits.
  server.prependListener('upgrade', (_req, socket) => uncount(socket))
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    if (err.code === 'ECONNRESET') {
      socket.destroy()
      return
    }
    const timedOut = err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
    refused[timedOut ? 'timeout' : 'bad-request']++
    // An answer only where no response has started on this connection (as Node itself does).
    if (!socket.writable || (socket as Socket).bytesWritten > 0) {
      socket.destroy()
      return
    }
    const body = JSON.stringify(
      timedOut
        ? { error: 'RequestTimeout', message: 'the request was not received in time' }
        : { error: 'InvalidRequest', message: 'malformed HTTP request' },
    )
    answerAndClose(
      socket,
      opts.serverHeader,
      timedOut ? 408 : 400,
      timedOut ? 'Request Timeout' : 'Bad Request',
      body,
    )
  })
  return {
    server,
    stats: () => ({ open, refused: { ...refused } }),
    refuse: (reason) => {
      refused[reason]++
    },
  }
}

function tooMany(cap: number): string {
  return JSON.stringify({
    error: 'RateLimitExceeded',
    message: `too many connections from this address (at most ${cap} at once)`,
  })
}

/** Writes a whole HTTP answer and closes; a client that does not read it is cut off after 1 s. */
function answerAndClose(
  socket: Duplex,
  serverHeader: string,
  status: number,
  text: string,
  body: string,
): void {
  socket.on('error', () => socket.destroy())
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nServer: ${serverHeader}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  )
  setTimeout(() => socket.destroy(), 1000).unref()
}
