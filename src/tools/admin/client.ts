// A small HTTP client for a running relay's admin API (docs/admin-api.md): builds the
// URL (query parameters), sends the Bearer key and JSON bodies, bounds every request with a
// timeout, and turns every failure into one AdminRequestError whose `code` says what went wrong.
// Deliberately not here: which routes exist or how answers are shown (the commands do that).

export type AdminErrorCode =
  /** The relay answered 4xx/5xx. */
  | 'http'
  /** 401: missing or wrong admin key. */
  | 'unauthorized'
  /** The relay does not offer this route (404 route-not-found, 405 or 501). */
  | 'unavailable'
  /** No answer: connection refused, DNS failure, reset. */
  | 'unreachable'
  /** No answer within the request timeout. */
  | 'timeout'
  /** A 2xx answer whose body is not what the route promises. */
  | 'bad-response'

export class AdminRequestError extends Error {
  readonly code: AdminErrorCode
  /** `METHOD /path` of the request. */
  readonly route: string
  /** HTTP status, when the relay answered. */
  readonly status: number | undefined
  /** The `error` name from the relay's JSON body, when there was one. */
  readonly error: string | undefined

  constructor(
    code: AdminErrorCode,
    route: string,
    message: string,
    extra: { status?: number; error?: string; cause?: unknown } = {},
  ) {
    super(message, { cause: extra.cause })
    this.name = 'AdminRequestError'
    this.code = code
    this.route = route
    this.status = extra.status
    this.error = extra.error
  }
}

export interface AdminRequest {
  readonly method: 'GET' | 'POST'
  /** Path under the relay URL, starting with `/admin/`. */
  readonly path: string
  /** Query parameters; undefined values are left out. */
  readonly query?: Readonly<Record<string, string | undefined>>
  /** JSON body (POST only). */
  readonly body?: unknown
  /** This request's bound, for routes that work while they answer (one repo's resync). */
  readonly timeoutMs?: number
}

export interface AdminClientOptions {
  /** Relay base URL (`http://localhost:2470`); a trailing slash is ignored. */
  readonly baseUrl: string
  readonly key: string
  readonly fetch: typeof fetch
  /** Per-request bound; default 30 s. */
  readonly timeoutMs?: number
  readonly signal?: AbortSignal
}

export class AdminClient {
  readonly baseUrl: string
  readonly #key: string
  readonly #fetch: typeof fetch
  readonly #timeoutMs: number
  readonly #signal: AbortSignal | undefined

  constructor(opts: AdminClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '')
    this.#key = opts.key
    this.#fetch = opts.fetch
    this.#timeoutMs = opts.timeoutMs ?? 30_000
    this.#signal = opts.signal
  }

  /** Sends one request; answers the parsed JSON body (or the text, when it is not JSON). */
  async call(req: AdminRequest): Promise<unknown> {
    const route = `${req.method} ${req.path}`
    const url = new URL(this.baseUrl + req.path)
    for (const [k, v] of Object.entries(req.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, v)
    }
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.#key}`,
      Accept: 'application/json',
    }
    if (req.body !== undefined) headers['Content-Type'] = 'application/json'
    const timeoutMs = req.timeoutMs ?? this.#timeoutMs
    const timeout = AbortSignal.timeout(timeoutMs)
    const signal = this.#signal ? AbortSignal.any([this.#signal, timeout]) : timeout
    let res: Response
    let text: string
    try {
      res = await this.#fetch(url, {
        method: req.method,
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal,
      })
      text = await res.text()
    } catch (err) {
      if (timeout.aborted)
        throw new AdminRequestError(
          'timeout',
          route,
          `no answer from ${this.baseUrl} within ${timeoutMs / 1000} s`,
          { cause: err },
        )
      throw new AdminRequestError(
        'unreachable',
        route,
        `cannot reach the relay at ${this.baseUrl}: ${describeFetchError(err)}`,
        { cause: err },
      )
    }
    const body = parseBody(text)
    if (res.ok) return body
    throw httpError(route, res.status, body)
  }
}

function parseBody(text: string): unknown {
  if (text.trim() === '') return undefined
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

function httpError(route: string, status: number, body: unknown): AdminRequestError {
  const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {}
  const error = typeof fields.error === 'string' ? fields.error : undefined
  const message =
    typeof fields.message === 'string'
      ? fields.message
      : typeof body === 'string'
        ? body.trim().slice(0, 300)
        : ''
  const detail = [`HTTP ${status}`, error, message].filter((s) => s).join(' ')
  // "This relay does not offer it": 501, 405 (only the other method exists), or a 404 about
  // the route itself: no XRPC error name (a proxy's page), or the relay router's `NotFound`
  // "no such route". A 404 about a thing (`HostNotFound`, or `NotFound` "x is not banned",
  // "no resync of x has run") is an ordinary error answer. The phrase is matched whole: a
  // message naming a host such as `route.example` is still about that host.
  const routeMissing =
    status === 404 &&
    (error === undefined ||
      (error === 'NotFound' && (message === '' || /\bno such route\b/i.test(message))))
  const unavailable = status === 501 || status === 405 || routeMissing
  const code = status === 401 ? 'unauthorized' : unavailable ? 'unavailable' : 'http'
  return new AdminRequestError(code, route, detail, { status, error })
}

function describeFetchError(err: unknown): string {
  // fetch wraps the socket error: `TypeError: fetch failed` with the real one as `cause`.
  const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err
  if (cause instanceof Error) {
    const code = (cause as Error & { code?: unknown }).code
    return typeof code === 'string' && !cause.message.includes(code)
      ? `${code} ${cause.message}`
      : cause.message
  }
  return String(cause)
}
