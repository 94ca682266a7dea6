// A `fetch` for the relay's own GETs of small documents from a service it is configured with
// (the PLC directory's DID documents): undici's `request` on its own pool of kept-alive
// connections, its answer handed back as a web Response. Why: the global fetch builds its
// WHATWG machinery around every request (a Request, the fetch algorithm's steps, web streams),
// which cost ~180–240 µs of CPU per DID document against ~100–110 µs for the same GET through
// `request` wrapped as here (client and server in one process on loopback, BENCHMARKS.md,
// session 16); every account the relay sees for the first time, or again after the identity
// cache's TTL, takes one, on the thread that runs its ingest.
// Only what those callers use: GET, headers, a signal (it covers the body too: an abort
// mid-body errors the stream). Redirects are returned, never followed (the caller checks and
// follows them itself); the body is streamed (web-response.ts), and the caller must read or cancel
// it, or its connection stays taken until the server closes it.
// Deliberately not here: which answers are acceptable, size caps (the caller reads with a cap),
// and URLs the network names (did:web goes through hosts/public-fetch.ts, which checks and pins
// addresses).
import type { Agent } from 'undici'
import { requestHeaders, webResponse } from './web-response.ts'

export type LightFetch = (input: URL | string, init?: RequestInit) => Promise<Response>

/**
 * undici, loaded at the first request: each thread that loads it holds ~7 MB more heap, so a
 * thread that never resolves a DID (the main thread with account shards, a relay at rest) does
 * not pay for it.
 */
let undici: Promise<typeof import('undici')> | undefined

/** A GET-only fetch with a connection pool of its own (idle connections do not hold the process). */
export function lightFetch(): LightFetch {
  let dispatcher: Agent | undefined
  return async (input, init) => {
    const method = init?.method ?? 'GET'
    if (method !== 'GET') throw new TypeError(`lightFetch: ${method} is not supported, only GET`)
    undici ??= import('undici')
    const { Agent, request } = await undici
    dispatcher ??= new Agent()
    const res = await request(input, {
      method: 'GET',
      headers: requestHeaders(init),
      signal: init?.signal ?? undefined,
      dispatcher,
    })
    return webResponse({
      status: res.statusCode,
      headers: pairsOf(res.headers),
      body: res.body,
      discard: () => void res.body.dump().catch(() => {}),
    })
  }
}

/** undici's header record (a repeated header as an array) as pairs. */
function* pairsOf(
  headers: Record<string, string | string[] | undefined>,
): Generator<readonly [string, string]> {
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    for (const one of Array.isArray(value) ? value : [value]) yield [name, one]
  }
}
