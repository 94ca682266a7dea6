// A `fetch` for URLs the network names (did:web documents): each request connects only to
// public addresses, pinned to the ones just checked (`checkedLookup`), so a name cannot pass the
// check with one DNS answer and then connect with another (rebinding). Redirects are returned,
// never followed (the caller checks and follows them itself, each hop through this again).
// Only what the relay's callers use: GET, headers, a signal; the body is streamed
// (net/web-response.ts).
// Deliberately not here: which answers are acceptable, size caps (the caller reads with a cap).
import http from 'node:http'
import https from 'node:https'
import { requestHeaders, webResponse } from '../net/web-response.ts'
import { checkedLookup, type LookupAll } from './address.ts'

export function publicFetch(
  allowLocalhost: boolean,
  lookup?: LookupAll,
): (input: URL | string, init?: RequestInit) => Promise<Response> {
  return async (input, init) => {
    const url = new URL(input)
    const signal = init?.signal ?? new AbortController().signal
    const pinned = await checkedLookup(url, allowLocalhost, signal, lookup)
    const headers = requestHeaders(init)
    const request = url.protocol === 'https:' ? https.request : http.request
    return new Promise<Response>((resolve, reject) => {
      const options: http.RequestOptions = { method: 'GET', headers, signal, agent: false }
      if (pinned !== undefined) options.lookup = pinned
      const req = request(url, options, (res) => {
        // Whatever a hostile host answers must end as a rejection, never a throw here (this
        // callback runs outside any promise: a throw would end the process).
        try {
          resolve(
            webResponse({
              status: res.statusCode ?? 0,
              headers: pairsOf(res.rawHeaders),
              body: res,
              discard: () => res.destroy(),
            }),
          )
        } catch (err) {
          res.destroy()
          reject(err)
        }
      })
      req.on('error', reject)
      req.end()
    })
  }
}

/** Node's raw header list (name, value, name, value, ...) as pairs. */
function* pairsOf(raw: readonly string[]): Generator<readonly [string, string]> {
  for (let i = 0; i + 1 < raw.length; i += 2) yield [raw[i]!, raw[i + 1]!]
}
