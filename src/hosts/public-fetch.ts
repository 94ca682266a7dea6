// A `fetch` for URLs the network names (did:web documents): each request connects only to
// public addresses, pinned to the ones just checked (`checkedLookup`), so a name cannot pass the
// check with one DNS answer and then connect with another (rebinding). Redirects are returned,
// never followed (the caller checks and follows them itself, each hop through this again).
// Only what the relay's callers use: GET, headers, a signal; the body is streamed
// (net/web-body.ts).
// Deliberately not here: which answers are acceptable, size caps (the caller reads with a cap).
import http from 'node:http'
import https from 'node:https'
import { webStreamOf } from '../net/web-body.ts'
import { checkedLookup, type LookupAll } from './address.ts'

/** Statuses whose answers carry no body (a Response refuses one). */
const NO_BODY = new Set([204, 205, 304])

export function publicFetch(
  allowLocalhost: boolean,
  lookup?: LookupAll,
): (input: URL | string, init?: RequestInit) => Promise<Response> {
  return async (input, init) => {
    const url = new URL(input)
    const signal = init?.signal ?? new AbortController().signal
    const pinned = await checkedLookup(url, allowLocalhost, signal, lookup)
    const headers = Object.fromEntries(new Headers(init?.headers).entries())
    const request = url.protocol === 'https:' ? https.request : http.request
    return new Promise<Response>((resolve, reject) => {
      const options: http.RequestOptions = { method: 'GET', headers, signal, agent: false }
      if (pinned !== undefined) options.lookup = pinned
      const req = request(url, options, (res) => {
        // Whatever a hostile host answers must end as a rejection, never a throw here (this
        // callback runs outside any promise: a throw would end the process).
        try {
          const status = res.statusCode ?? 0
          if (status < 200 || status > 599) throw new Error(`HTTP status ${status}`)
          const h = new Headers()
          for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
            try {
              h.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!)
            } catch {
              // a header value fetch would not accept: left out
            }
          }
          const empty = NO_BODY.has(status)
          if (empty) res.resume()
          const body = empty ? null : webStreamOf(res)
          resolve(new Response(body, { status, headers: h }))
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
