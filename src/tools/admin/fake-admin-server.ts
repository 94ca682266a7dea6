// Test helper: a fake relay admin API on 127.0.0.1 (port 0) that records every request
// (method, path, query, JSON body, Authorization header) and answers from canned responses
// keyed by `METHOD /path`. A list of answers is served in order (the last one repeats), which
// is how tests script progress polling. Unknown routes answer 404 `NotFound` like the relay's
// router; a wrong key answers 401 like its admin check.
// Deliberately not here: any admin behaviour (it never changes state on its own).
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface RecordedRequest {
  readonly method: string
  readonly path: string
  readonly query: Readonly<Record<string, string>>
  /** Parsed JSON body, or undefined when there was none. */
  readonly body: unknown
  readonly rawBody: string
  readonly contentType: string | undefined
  readonly authorization: string | undefined
}

export interface CannedAnswer {
  readonly status?: number
  /** Sent as JSON; a string is sent as is. */
  readonly json?: unknown
  readonly text?: string
}

export class FakeAdminServer {
  readonly requests: RecordedRequest[] = []
  readonly #server: Server
  readonly #answers = new Map<string, CannedAnswer[]>()
  readonly #key: string

  private constructor(server: Server, key: string) {
    this.#server = server
    this.#key = key
  }

  static async start(key = 'secret-key'): Promise<FakeAdminServer> {
    const server = createServer()
    const fake = new FakeAdminServer(server, key)
    server.on('request', (req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://fake.invalid')
        const rawBody = Buffer.concat(chunks).toString('utf8')
        let body: unknown
        try {
          body = rawBody === '' ? undefined : (JSON.parse(rawBody) as unknown)
        } catch {
          body = rawBody
        }
        fake.requests.push({
          method: req.method ?? '',
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          body,
          rawBody,
          contentType: req.headers['content-type'],
          authorization: req.headers.authorization,
        })
        const answer = fake.#answer(req.method ?? '', url.pathname, req.headers.authorization)
        const status = answer.status ?? 200
        const payload = answer.text ?? JSON.stringify(answer.json === undefined ? {} : answer.json)
        res.writeHead(status, {
          'Content-Type': answer.text === undefined ? 'application/json' : 'text/plain',
        })
        res.end(payload)
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    return fake
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`
  }

  /** `host:port`, as RELAY_HOST for the shell scripts. */
  get hostPort(): string {
    return `127.0.0.1:${(this.#server.address() as AddressInfo).port}`
  }

  /** Sets the answers for `METHOD /path`, served in order; the last one repeats. */
  on(route: string, ...answers: CannedAnswer[]): this {
    this.#answers.set(route, answers)
    return this
  }

  /** The one request recorded so far, failing loudly when there is not exactly one. */
  only(): RecordedRequest {
    if (this.requests.length !== 1)
      throw new Error(`expected one request, got ${JSON.stringify(this.requests)}`)
    return this.requests[0] as RecordedRequest
  }

  #answer(method: string, path: string, auth: string | undefined): CannedAnswer {
    if (auth !== `Bearer ${this.#key}`)
      return { status: 401, json: { error: 'Unauthorized', message: 'missing or wrong admin key' } }
    const list = this.#answers.get(`${method} ${path}`)
    if (list === undefined || list.length === 0)
      return { status: 404, json: { error: 'NotFound', message: 'no such route' } }
    return (list.length > 1 ? list.shift() : list[0]) as CannedAnswer
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections()
    await new Promise<void>((resolve) => this.#server.close(() => resolve()))
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }
}
