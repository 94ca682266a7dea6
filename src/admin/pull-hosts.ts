// `POST /admin/pds/pullHosts` (docs/admin-api.md): adds the hosts another relay lists
// (`com.atproto.sync.listHosts`, paged) in the background, each through the same admission as an
// admin requestCrawl (probe included), a few at a time; `GET /admin/pds/pullHosts` shows
// progress. One pull runs at a time.
import { invalidRequest, XrpcError } from '../api/errors.ts'
import type { Route } from '../api/server.ts'
import { bodyObject } from './inputs.ts'

export interface PullProgress {
  status: 'idle' | 'running' | 'done' | 'failed'
  from: string | null
  pages: number
  hostsListed: number
  added: number
  known: number
  failed: number
  startedAt: string | null
  finishedAt: string | null
  lastError: string | null
}

export interface PullHostsDeps {
  readonly userAgent: string
  readonly isKnown: (hostname: string) => boolean
  /** Admin requestCrawl; throws when refused. */
  readonly crawl: (hostname: string) => Promise<void>
  readonly fetch?: typeof fetch
  readonly concurrency?: number
  /** Told after each page and at the end (the relay logs it). */
  readonly onProgress?: (p: PullProgress) => void
}

export class HostPuller {
  readonly #d: PullHostsDeps
  #progress: PullProgress = {
    status: 'idle',
    from: null,
    pages: 0,
    hostsListed: 0,
    added: 0,
    known: 0,
    failed: 0,
    startedAt: null,
    finishedAt: null,
    lastError: null,
  }
  #abort = new AbortController()

  constructor(deps: PullHostsDeps) {
    this.#d = deps
  }

  get progress(): PullProgress {
    return { ...this.#progress }
  }

  /** Starts a pull (returns at once); throws if one is running. */
  start(from: string): void {
    if (this.#progress.status === 'running')
      throw new XrpcError(409, 'AlreadyRunning', 'a host pull is already running')
    this.#progress = {
      ...this.progress,
      status: 'running',
      from,
      pages: 0,
      hostsListed: 0,
      added: 0,
      known: 0,
      failed: 0,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      lastError: null,
    }
    void this.#run(from).then(
      () => {
        this.#progress.status = 'done'
        this.#progress.finishedAt = new Date().toISOString()
        this.#d.onProgress?.(this.progress)
      },
      (err: unknown) => {
        this.#progress.status = 'failed'
        this.#progress.lastError = err instanceof Error ? err.message : String(err)
        this.#progress.finishedAt = new Date().toISOString()
        this.#d.onProgress?.(this.progress)
      },
    )
  }

  stop(): void {
    this.#abort.abort()
    this.#abort = new AbortController()
  }

  async #run(from: string): Promise<void> {
    const doFetch = this.#d.fetch ?? fetch
    const signal = this.#abort.signal
    let cursor: string | undefined
    for (;;) {
      const url = new URL('/xrpc/com.atproto.sync.listHosts', from)
      url.searchParams.set('limit', '1000')
      if (cursor) url.searchParams.set('cursor', cursor)
      const res = await doFetch(url, {
        headers: { 'User-Agent': this.#d.userAgent },
        signal: AbortSignal.any([signal, AbortSignal.timeout(30_000)]),
      })
      if (!res.ok) throw new Error(`listHosts at ${from} answered HTTP ${res.status}`)
      const page = (await res.json()) as { hosts?: { hostname?: unknown }[]; cursor?: unknown }
      const names = (page.hosts ?? [])
        .map((h) => h.hostname)
        .filter((h): h is string => typeof h === 'string')
      this.#progress.pages++
      this.#progress.hostsListed += names.length
      await this.#addAll(names, signal)
      this.#d.onProgress?.(this.progress)
      if (typeof page.cursor !== 'string' || page.cursor === '' || names.length === 0) return
      cursor = page.cursor
    }
  }

  async #addAll(names: string[], signal: AbortSignal): Promise<void> {
    const queue = [...names]
    const worker = async () => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        if (signal.aborted) return
        if (this.#d.isKnown(name)) {
          this.#progress.known++
          continue
        }
        try {
          await this.#d.crawl(name)
          this.#progress.added++
        } catch (err) {
          this.#progress.failed++
          this.#progress.lastError = `${name}: ${err instanceof Error ? err.message : String(err)}`
        }
      }
    }
    await Promise.all(Array.from({ length: this.#d.concurrency ?? 4 }, worker))
  }
}

export function pullHostsRoutes(puller: HostPuller): Route[] {
  return [
    {
      method: 'POST',
      path: '/admin/pds/pullHosts',
      admin: true,
      handle: (req) => {
        const from = bodyObject(req).from
        if (typeof from !== 'string' || from === '')
          throw invalidRequest('"from" (the other relay\'s URL) is required')
        if (from.length > 2048) throw invalidRequest('"from" is too long (2048 characters at most)')
        let url: URL
        try {
          url = new URL(from)
        } catch {
          throw invalidRequest('"from" is not a URL')
        }
        if (url.protocol !== 'https:' && url.protocol !== 'http:')
          throw invalidRequest('"from" must be an http(s) URL')
        if (url.hostname.length > 253) throw invalidRequest('"from" has an over-long host name')
        puller.start(url.origin)
        return { json: { success: 'true' } }
      },
    },
    {
      method: 'GET',
      path: '/admin/pds/pullHosts',
      admin: true,
      handle: () => ({ json: puller.progress }),
    },
  ]
}
