// Forwarding to sibling relays (`--sibling-relays`): a successful admin change or requestCrawl is
// repeated, in the background, to each sibling with the same path, query, body and credentials,
// marked as forwarded so the sibling does not forward it again (no loops). Failures are logged,
// never surfaced to the caller (the change already succeeded here).

import type { ApiRequest } from '../api/server.ts'
import { FORWARDED_HEADER } from '../api/server.ts'

export function siblingForwarder(
  siblings: readonly string[],
  userAgent: string,
  onResult: (sibling: string, path: string, outcome: string) => void,
): ((req: ApiRequest, rawQuery: string) => void) | undefined {
  if (siblings.length === 0) return undefined
  return (req, rawQuery) => {
    for (const sibling of siblings) {
      const headers: Record<string, string> = { 'User-Agent': userAgent, [FORWARDED_HEADER]: '1' }
      const auth = req.headers.authorization
      if (auth) headers.Authorization = auth
      if (req.body !== undefined) headers['Content-Type'] = 'application/json'
      fetch(`${sibling}${req.path}${rawQuery}`, {
        method: req.method,
        headers,
        body: req.body === undefined ? undefined : JSON.stringify(req.body),
        signal: AbortSignal.timeout(10_000),
        redirect: 'error',
      }).then(
        (res) => onResult(sibling, req.path, `HTTP ${res.status}`),
        (err: unknown) =>
          onResult(sibling, req.path, err instanceof Error ? err.message : String(err)),
      )
    }
  }
}
