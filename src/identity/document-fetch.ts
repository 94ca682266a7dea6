// One bounded HTTP GET of a DID document: the transport half of resolution.
//
// Checked: a time limit covering connect, headers and body (the caller's signal is honoured too,
// and the two are told apart in the error); a body size cap enforced while streaming (a declared
// Content-Length past the cap is refused before reading); at most `maxRedirects` redirects,
// never from https down to http nor to a non-http scheme; 404 and 410 become DidNotFoundError;
// any other status than 200 is an error; the body must be UTF-8 JSON.
// Deliberately not checked: the document's contents (did-document.ts), Content-Type (directories
// and did:web hosts disagree on it), and where a host resolves to (host policy, src/hosts/).

import { readCapped } from '../net/read-capped.ts'
import { DidNotFoundError, DidResolutionError } from './errors.ts'

export interface DocumentFetchOptions {
  readonly userAgent: string
  readonly timeoutMs: number
  readonly maxBytes: number
  readonly maxRedirects: number
  /** GET only; redirects must be returned, not followed (`redirect: 'manual'` is asked). */
  readonly fetch: (input: URL | string, init?: RequestInit) => Promise<Response>
  /**
   * Called with each hostname before it is fetched (the first URL and every redirect); throws to
   * refuse it. The composition root passes an SSRF check (public addresses only) for did:web.
   */
  readonly checkHost?: (hostname: string) => Promise<void>
}

const ACCEPT = 'application/did+ld+json, application/json;q=0.9'

/** GETs `url` and returns the decoded JSON (unknown shape). */
export async function fetchDidJson(
  did: string,
  url: string,
  options: DocumentFetchOptions,
  callerSignal?: AbortSignal,
): Promise<unknown> {
  if (callerSignal?.aborted) {
    throw new DidResolutionError(did, 'aborted', 'aborted by caller', {
      cause: callerSignal.reason,
    })
  }
  const timeout = AbortSignal.timeout(options.timeoutMs)
  const signal = callerSignal === undefined ? timeout : AbortSignal.any([timeout, callerSignal])
  let bytes: Uint8Array
  try {
    const res = await getFollowingRedirects(did, url, options, signal)
    if (res.status === 404 || res.status === 410) {
      await discard(res)
      throw new DidNotFoundError(did, res.status === 410 ? 'tombstoned' : 'not-found', res.status)
    }
    if (res.status !== 200) {
      await discard(res)
      throw new DidResolutionError(did, 'http-status', `HTTP ${res.status}`, {
        status: res.status,
      })
    }
    const body = await readCapped(res, options.maxBytes)
    if (body === null) {
      throw new DidResolutionError(did, 'too-large', `document over ${options.maxBytes} bytes`)
    }
    bytes = body
  } catch (err) {
    if (err instanceof DidNotFoundError || err instanceof DidResolutionError) throw err
    if (callerSignal?.aborted) {
      throw new DidResolutionError(did, 'aborted', 'aborted by caller', { cause: err })
    }
    if (timeout.aborted) {
      throw new DidResolutionError(did, 'timeout', `no answer within ${options.timeoutMs} ms`, {
        cause: err,
      })
    }
    throw new DidResolutionError(did, 'network', describe(err), { cause: err })
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch (err) {
    throw new DidResolutionError(did, 'bad-json', 'body is not UTF-8', { cause: err })
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new DidResolutionError(did, 'bad-json', 'body is not JSON', { cause: err })
  }
}

async function getFollowingRedirects(
  did: string,
  url: string,
  options: DocumentFetchOptions,
  signal: AbortSignal,
): Promise<Response> {
  let current = new URL(url)
  for (let hops = 0; ; hops++) {
    if (options.checkHost) {
      try {
        await options.checkHost(current.hostname)
      } catch (err) {
        throw new DidResolutionError(
          did,
          'unsafe-host',
          `refused to fetch from ${current.hostname}`,
          { cause: err },
        )
      }
    }
    const res = await options.fetch(current, {
      method: 'GET',
      redirect: 'manual',
      signal,
      headers: { 'user-agent': options.userAgent, accept: ACCEPT },
    })
    if (res.status < 300 || res.status > 399 || res.status === 304) return res
    const location = res.headers.get('location')
    await discard(res)
    if (location === null) {
      throw new DidResolutionError(did, 'http-status', `HTTP ${res.status} without Location`, {
        status: res.status,
      })
    }
    if (hops >= options.maxRedirects) {
      throw new DidResolutionError(did, 'too-many-redirects', `more than ${options.maxRedirects}`)
    }
    let next: URL
    try {
      next = new URL(location, current)
    } catch (err) {
      throw new DidResolutionError(did, 'bad-redirect', 'unparseable Location', { cause: err })
    }
    const downgrade = current.protocol === 'https:' && next.protocol !== 'https:'
    if (downgrade || (next.protocol !== 'https:' && next.protocol !== 'http:')) {
      throw new DidResolutionError(did, 'bad-redirect', `redirect to ${next.protocol} refused`)
    }
    current = next
  }
}

async function discard(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => {})
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : ''
    return `${err.message}${cause}`
  }
  return String(err)
}
